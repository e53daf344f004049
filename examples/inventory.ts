// A small example file for `npm run demo`: the demo opens it and types a new function into it.
export interface Item {
  name: string;
  price: number;
  quantity: number;
}

export function totalValue(items: Item[]): number {
  let total = 0;
  for (const item of items) {
    total += item.price * item.quantity;
  }
  return total;
}

export function findByName(items: Item[], name: string): Item | undefined {
  return items.find((item) => item.name === name);
}
