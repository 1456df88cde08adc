// Colour codes out of text (SGR sequences, the only ones chalk and the agent's log write): for widths and for reading a log.

const SGR = /\x1b\[[0-9;]*m/g;

export function stripAnsi(text: string): string {
  return text.replace(SGR, '');
}
