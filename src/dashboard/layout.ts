// The blessed screen: one box per pane, placed by computeGeometry and filled
// with the lines the view model made. No decisions here beyond colour: the
// lines already fit their boxes, so nothing wraps or overlaps at any size.

import blessed from 'blessed';
import type { Line, Tone } from './format.ts';
import type { Geometry, Rect } from './geometry.ts';
import type { View } from './view-model.ts';

export interface Terminal {
  size(): { cols: number; rows: number };
  draw(view: View, geometry: Geometry): void;
  /** Key names as keys.ts knows them ("up", "k", "?", "C-c"). */
  onKey(listener: (key: string) => void): void;
  onResize(listener: () => void): void;
  /** Leaves the alternate screen and gives the terminal back as it was. */
  destroy(): void;
}

export interface TerminalOptions {
  input?: NodeJS.ReadableStream;
  output?: NodeJS.WritableStream;
  title: string;
}

const TONE_TAG: Readonly<Record<Tone, string | undefined>> = { ok: undefined, idle: undefined, warn: 'yellow-fg', bad: 'red-fg' };

function tagged(line: Line): string {
  let text = blessed.escape(line.text);
  const tone = line.tone && TONE_TAG[line.tone];
  if (tone) text = `{${tone}}${text}{/${tone}}`;
  if (line.heading) text = `{bold}${text}{/bold}`;
  if (line.selected) text = `{inverse}${text}{/inverse}`;
  return text;
}

const content = (lines: readonly Line[]) => lines.map(tagged).join('\n');

function place(box: blessed.Widgets.BoxElement, rect: Rect | undefined, lines: readonly Line[]): void {
  if (!rect) return void box.hide();
  Object.assign(box.position, { top: rect.top, left: rect.left, width: rect.width, height: rect.height });
  box.setContent(content(lines));
  box.show();
}

export function openTerminal(options: TerminalOptions): Terminal {
  // @types/blessed has input as a Writable; blessed reads keys from it.
  const streams = { ...(options.input ? { input: options.input } : {}), ...(options.output ? { output: options.output } : {}) } as Pick<blessed.Widgets.IScreenOptions, 'input' | 'output'>;
  const screen = blessed.screen({
    ...streams,
    title: options.title,
    smartCSR: true,
    warnings: false,
    // Ctrl-C arrives as a key in raw mode; keys.ts decides what it does.
    ignoreLocked: ['C-c'],
  });
  // In a UTF-8 locale, write UTF-8 rather than the DEC line-drawing set blessed
  // prefers (as ncurses does with NCURSES_NO_UTF8_ACS=1): terminals over SSH
  // (PuTTY, tmux) often draw ACS wrongly, turning "·" into "~".
  const tput = (screen.program as unknown as { tput: unknown }).tput as { unicode: boolean; brokenACS: boolean };
  if (tput.unicode) tput.brokenACS = true;
  const box = (extra: blessed.Widgets.BoxOptions = {}) => blessed.box({ parent: screen, tags: true, wrap: false, ...extra });
  const header = box({ style: { inverse: true } as never });
  const table = box();
  const lower = box();
  const errors = box();
  const status = box();
  const help = box({ border: { type: 'line' }, hidden: true, label: ' help ' });
  const separator = box({ ch: '│' } as blessed.Widgets.BoxOptions);

  return {
    size: () => ({ cols: Number(screen.width), rows: Number(screen.height) }),
    draw(view, geometry) {
      place(header, geometry.header, [{ text: view.header, heading: true }]);
      place(table, geometry.table, view.table);
      place(lower, geometry.lower, view.lower);
      place(errors, geometry.errors, view.errors);
      place(status, geometry.status, view.status);
      // Side by side, a one-column rule between the detail and errors panes.
      const side = geometry.lower && geometry.errors && geometry.errors.left > 0;
      place(separator, side ? { top: geometry.errors!.top, left: geometry.errors!.left - 1, width: 1, height: geometry.errors!.height } : undefined, []);
      if (view.help) {
        const width = Math.min(geometry.header.width, Math.max(...view.help.map((l) => l.text.length)) + 4);
        const height = Math.min(Number(screen.height), view.help.length + 2);
        place(help, { top: Math.max(0, Math.floor((Number(screen.height) - height) / 2)), left: Math.max(0, Math.floor((geometry.header.width - width) / 2)), width, height }, view.help);
        help.setFront();
      } else help.hide();
      screen.render();
    },
    onKey(listener) {
      screen.on('keypress', (ch: string | undefined, key: { full?: string; name?: string } | undefined) => {
        const name = key?.full && key.full !== 'undefined' ? key.full : (ch ?? key?.name);
        if (name) listener(name);
      });
    },
    onResize(listener) {
      // blessed's screen answers a resize by drawing every widget where it
      // was, clipped to the new size, and only then tells the widgets: one
      // frame of the old layout. Listening ahead of it (with the buffers
      // sized anew) makes that frame the new layout.
      screen.program.prependListener('resize', () => {
        screen.alloc();
        listener();
      });
    },
    destroy: () => screen.destroy(),
  };
}
