// A refused new password (400 weak_password, or too short or long) is shown at the password
// field with the server's own words; anything else is a problem of the whole form.
import { codeOf, problemOf } from '../api/client';

/** `field`: the body field the password went in (`password`, or `newPassword` on a change). */
export function passwordProblem(error: unknown, response: Response, field = 'password'): { field?: string; form?: string } {
  const code = codeOf(error);
  const message = problemOf(error, response);
  const details = (error as { error?: { details?: { path?: string }[] } } | undefined)?.error?.details;
  const aboutPassword = code === 'weak_password' || (code === 'validation_error' && details?.some((d) => d.path === `/${field}`));
  if (!aboutPassword) return { form: message };
  // "Invalid body: /password is one character repeated; choose another" → "This password is one
  // character repeated. Choose another."; a length message reads as the server gives it.
  const reason = message.replace(`Invalid body: /${field} `, '').replace(/; choose another$/, '');
  return { field: code === 'weak_password' ? `This password ${reason}. Choose another.` : reason.charAt(0).toUpperCase() + reason.slice(1) };
}
