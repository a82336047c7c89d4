// A refused new password (400 weak_password, or too short or long) is shown at the password
// field with the server's own words; anything else is a problem of the whole form.
import { codeOf, problemOf } from '../api/client';

export function passwordProblem(error: unknown, response: Response): { field?: string; form?: string } {
  const code = codeOf(error);
  const message = problemOf(error, response);
  const details = (error as { error?: { details?: { path?: string }[] } } | undefined)?.error?.details;
  const aboutPassword = code === 'weak_password' || (code === 'validation_error' && details?.some((d) => d.path === '/password'));
  if (!aboutPassword) return { form: message };
  const reason = message.replace(/^Invalid body: \/password /, '');
  return { field: reason.charAt(0).toUpperCase() + reason.slice(1) };
}
