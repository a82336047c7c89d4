// Who is signed in: GET /api/v1/me/ on start, the answer of a sign-in or an accepted invitation
// afterwards. The CSRF token of the session goes to the API client for every write.
import { createContext, useCallback, useContext, useEffect, useState, type ReactNode } from 'react';
import { api, setCsrfToken, type Me } from './api/client';

interface SessionState {
  /** undefined while the first GET /api/v1/me/ is on its way; null: signed out. */
  me: Me | null | undefined;
  signedIn(me: Me): void;
  signOut(): Promise<void>;
}

const SessionContext = createContext<SessionState | undefined>(undefined);

export function SessionProvider({ children }: { children: ReactNode }) {
  const [me, setMe] = useState<Me | null | undefined>(undefined);

  const signedIn = useCallback((value: Me | null) => {
    setCsrfToken(value?.csrfToken);
    setMe(value);
  }, []);

  useEffect(() => {
    void api.GET('/api/v1/me/').then(({ data }) => signedIn(data ?? null), () => signedIn(null));
  }, [signedIn]);

  const signOut = useCallback(async () => {
    // Signed out here whatever the answer: a session the server already ended is just as gone.
    await api.DELETE('/api/v1/me/session').catch(() => undefined);
    signedIn(null);
  }, [signedIn]);

  return <SessionContext.Provider value={{ me, signedIn, signOut }}>{children}</SessionContext.Provider>;
}

export function useSession(): SessionState {
  const state = useContext(SessionContext);
  if (!state) throw new Error('useSession outside SessionProvider');
  return state;
}
