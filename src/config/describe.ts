// zod issues as operators read them: every one, each with its field path.

import type { z } from 'zod';

export function describeZodIssues(error: z.ZodError): string {
  return error.issues.map((issue) => `${issue.path.join('.') || '(root)'}: ${issue.message}`).join('; ');
}
