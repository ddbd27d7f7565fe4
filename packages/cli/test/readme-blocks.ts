/**
 * The README's code blocks, and how each runs. Every fenced block is preceded by an HTML comment
 * (invisible on the rendered page) that says how the test runs it:
 *
 *   <!-- test: sh | ts
 *     setup: SHELL COMMAND        (run first, for what the README assumes exists: input files)
 *     expect: REGEX               (must match a line of stdout; multiline mode)
 *     stderr: REGEX               (must match a line of stderr)
 *   -->
 *   <!-- test: skip, WHY -->      (not runnable as it stands, and why)
 *
 * A block without such a comment is an error, so a new block cannot go untested by accident.
 */

export interface ReadmeBlock {
  /** 1-based line of the opening fence. */
  line: number;
  lang: string;
  code: string;
  kind: 'sh' | 'ts' | 'skip';
  reason: string;
  setup: string[];
  expect: RegExp[];
  stderr: RegExp[];
}

export function readmeBlocks(markdown: string): ReadmeBlock[] {
  const lines = markdown.split('\n');
  const blocks: ReadmeBlock[] = [];
  for (let i = 0; i < lines.length; i++) {
    const open = /^(\s*)```(\w+)\s*$/.exec(lines[i] as string);
    if (!open) continue;
    const indent = (open[1] as string).length;
    const body: string[] = [];
    let j = i + 1;
    for (; j < lines.length && !/^\s*```\s*$/.test(lines[j] as string); j++)
      body.push((lines[j] as string).slice(indent));
    const marker = markerBefore(lines, i);
    if (marker === null)
      throw new Error(`README.md:${i + 1}: a \`\`\`${open[2]} block without a <!-- test: ... --> comment`);
    blocks.push({ line: i + 1, lang: open[2] as string, code: `${body.join('\n')}\n`, ...parseMarker(marker, i + 1) });
    i = j;
  }
  return blocks;
}

/** The `<!-- test: ... -->` comment ending on the line just before the fence, or null. */
function markerBefore(lines: string[], fence: number): string | null {
  const end = fence - 1;
  if (end < 0 || !/-->\s*$/.test(lines[end] as string)) return null;
  let start = end;
  while (start >= 0 && !/<!--\s*test:/.test(lines[start] as string)) {
    if (start < end && /-->/.test(lines[start] as string)) return null;
    start--;
  }
  if (start < 0) return null;
  return lines
    .slice(start, end + 1)
    .join('\n')
    .replace(/^\s*<!--\s*test:\s*/, '')
    .replace(/\s*-->\s*$/, '');
}

function parseMarker(text: string, line: number): Omit<ReadmeBlock, 'line' | 'lang' | 'code'> {
  const [head = '', ...rest] = text.split('\n').map((l) => l.trim());
  const skip = /^skip,\s*(.+)$/.exec(head);
  if (skip) return { kind: 'skip', reason: skip[1] as string, setup: [], expect: [], stderr: [] };
  if (head !== 'sh' && head !== 'ts') throw new Error(`README.md:${line}: unknown test kind "${head}"`);
  const out = {
    kind: head as 'sh' | 'ts',
    reason: '',
    setup: [] as string[],
    expect: [] as RegExp[],
    stderr: [] as RegExp[],
  };
  for (const l of rest.filter((x) => x !== '')) {
    const m = /^(setup|expect|stderr):\s*(.+)$/.exec(l);
    if (!m) throw new Error(`README.md:${line}: cannot read "${l}" in the test comment`);
    if (m[1] === 'setup') out.setup.push(m[2] as string);
    else (m[1] === 'expect' ? out.expect : out.stderr).push(new RegExp(m[2] as string, 'm'));
  }
  return out;
}

/**
 * The block with each port of the README (7000, 7443...) replaced by a free one, the same one
 * everywhere in the block, so the blocks run on any machine and in parallel with other tests.
 */
export function withPorts(code: string, free: (readmePort: number) => number): string {
  return code.replace(/:(7\d{3})\b/g, (_, port: string) => `:${free(Number(port))}`);
}
