// A moment from the API (ISO 8601) in the reader's locale, machine-readable in `dateTime`;
// `none` stands in when there is no such moment yet ("never" used, not yet attempted).
export function Timestamp({ at, none = '—' }: { at: string | null | undefined; none?: string }) {
  if (!at) return <span className="muted">{none}</span>;
  return <time dateTime={at}>{new Date(at).toLocaleString()}</time>;
}
