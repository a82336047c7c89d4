// Paths of the web app under /app, on the History API. A flat list of pages needs no more than
// this (no nested routes, loaders or data APIs); swap in a router library when pages need those.
import { useEffect, useState, useSyncExternalStore, type AnchorHTMLAttributes, type MouseEvent } from 'react';

export const BASE = '/app';

const CHANGE = 'metachat:navigate';
const subscribe = (listener: () => void) => {
  window.addEventListener('popstate', listener);
  window.addEventListener(CHANGE, listener);
  return () => {
    window.removeEventListener('popstate', listener);
    window.removeEventListener(CHANGE, listener);
  };
};

/** The page's path inside the app ('/', '/team', '/sign-in', …). */
export function usePath(): string {
  return useSyncExternalStore(subscribe, () => {
    const path = window.location.pathname.slice(BASE.length).replace(/\/+$/, '');
    return path === '' ? '/' : path;
  });
}

export function navigate(path: string, options: { replace?: boolean } = {}): void {
  const url = BASE + (path === '/' ? '/' : path);
  if (options.replace) window.history.replaceState(null, '', url);
  else window.history.pushState(null, '', url);
  window.dispatchEvent(new Event(CHANGE));
}

/** A link to a page of the app, followed without a reload. */
export function Link({ to, ...rest }: { to: string } & AnchorHTMLAttributes<HTMLAnchorElement>) {
  const onClick = (event: MouseEvent<HTMLAnchorElement>) => {
    if (event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) return;
    event.preventDefault();
    navigate(to);
  };
  return <a href={BASE + (to === '/' ? '/' : to)} onClick={onClick} {...rest} />;
}

/**
 * The #token=… of a link from an email (a fragment never reaches a server's logs), also when the
 * link is opened in a tab already on the page (only the fragment changes then). Once read, it is
 * taken out of the address bar so that it is not left in the history.
 */
export function useHashToken(): string | undefined {
  const [token, setToken] = useState(readHashToken);
  useEffect(() => {
    const onHash = () => {
      const next = readHashToken();
      if (next) setToken(next);
      clearHash();
    };
    clearHash();
    window.addEventListener('hashchange', onHash);
    return () => window.removeEventListener('hashchange', onHash);
  }, []);
  return token;
}

const readHashToken = () => new URLSearchParams(window.location.hash.slice(1)).get('token') ?? undefined;

function clearHash(): void {
  if (window.location.hash) window.history.replaceState(null, '', window.location.pathname + window.location.search);
}
