/** The number after `--name` on the command line, or undefined when the option is absent. */
export function numberOption(name: string, argv: readonly string[] = process.argv): number | undefined {
  const at = argv.indexOf(`--${name}`);
  return at > 0 && at + 1 < argv.length ? Number(argv[at + 1]) : undefined;
}
