// A MeshError's hint travels beside the reason, in a header: error bodies stay
// Consul's plain-text reason, which Consul clients (python-consul, the npm
// consul client) show as they are, and the meshctl CLI prints the hint after
// it. Header values are ASCII on one line, so anything else (and '%', to
// keep the code reversible) is percent-encoded; plain hints read as they are.

export const ERROR_HINT_HEADER = 'X-Mesh-Error-Hint';
/** Every error answer from a meshctl server carries its stable code here. */
export const ERROR_CODE_HEADER = 'X-Mesh-Error-Code';

export function encodeHint(hint: string): string {
  return hint.replace(/[^\x20-\x24\x26-\x7e]/gu, (c) => {
    try {
      return encodeURIComponent(c);
    } catch {
      return '?'; // a lone surrogate has no encoding
    }
  });
}

export function decodeHint(value: string): string {
  try {
    return decodeURIComponent(value);
  } catch {
    return value;
  }
}
