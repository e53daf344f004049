import type { FrameLocator, Locator, Page } from "playwright-core";

/**
 * Small helpers that find things in the VS Code workbench the way a user does: the command palette,
 * the status bar, quick picks and the chat webview. Every wait is one of Playwright's, which retry
 * until the element is there or the page's default time-out passes.
 */

/** Runs a command through the palette (F1), typing its title as a user would. */
export async function runCommand(page: Page, title: string): Promise<void> {
  await page.keyboard.press("F1");
  const input = page.locator(".quick-input-widget .quick-input-box input");
  await input.waitFor({ state: "visible" });
  await input.fill(`>${title}`);
  // Enter picks the first row, so wait until the palette has filtered down to the command.
  await page.locator(".quick-input-list .monaco-list-row.focused", { hasText: title }).waitFor();
  await input.press("Enter");
  await input.waitFor({ state: "hidden" });
}

/** Opens a workspace file through Quick Open (Ctrl+P). */
export async function quickOpen(page: Page, relativePath: string): Promise<void> {
  const input = page.locator(".quick-input-widget .quick-input-box input");
  await page.keyboard.press("Control+P");
  await input.waitFor({ state: "visible" });
  await input.fill(relativePath);
  await page.locator(".quick-input-list .monaco-list-row.focused", { hasText: relativePath.split("/").at(-1)! }).waitFor();
  await input.press("Enter");
  await input.waitFor({ state: "hidden" });
}

/**
 * The content of an extension's webview view. VS Code nests it twice: an iframe per webview (its
 * URL names the extension) that hosts the page itself in an inner iframe, #active-frame once loaded.
 */
export function webview(page: Page, extensionId: string): FrameLocator {
  return page.frameLocator(`iframe[src*="extensionId=${extensionId}"]`).frameLocator("#active-frame");
}

/** A status bar item: VS Code gives its element the id `<extension id>.<item id>`. */
export function statusBarItem(page: Page, extensionId: string, itemId: string): Locator {
  return page.locator(`.statusbar-item[id="${extensionId}.${itemId}"]`);
}

/** The row of the open quick pick whose label is exactly `label` (details may mention other labels). */
export function quickPickRow(page: Page, label: string): Locator {
  const name = page.locator(".label-name", { hasText: new RegExp(`^${label}$`) });
  return page.locator(".quick-input-widget .quick-input-list .monaco-list-row").filter({ has: name });
}
