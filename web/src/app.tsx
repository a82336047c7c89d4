// The pages by path. Signed-out pages are open to anyone; the others need a session and sit in
// the shell, and a page the role may not use says so instead of calling the API.
import { useEffect, type ReactNode } from 'react';
import type { Me } from './api/client';
import { AccountPage } from './pages/account';
import { AcceptInvitationPage } from './pages/accept-invitation';
import { ApiKeysPage } from './pages/api-keys';
import { AssistantPage } from './pages/assistant';
import { ChannelsPage } from './pages/channels';
import { EvaluationsPage } from './pages/evaluations';
import { FunctionsPage } from './pages/functions';
import { InboxPage } from './pages/inbox';
import { KnowledgePage } from './pages/knowledge';
import { UsagePage } from './pages/usage';
import { WebhooksPage } from './pages/webhooks';
import { OverviewPage } from './pages/overview';
import { ResetPasswordPage } from './pages/reset-password';
import { SignInPage } from './pages/sign-in';
import { TeamPage } from './pages/team';
import { navigate, usePath } from './router';
import { mayUse, SECTIONS } from './sections';
import { Shell } from './shell';
import { useSession } from './session';

const PUBLIC: Record<string, () => ReactNode> = {
  '/sign-in': () => <SignInPage />,
  '/accept-invitation': () => <AcceptInvitationPage />,
  '/reset-password': () => <ResetPasswordPage />,
};

const SIGNED_IN: Record<string, (me: Me) => ReactNode> = {
  '/': (me) => <OverviewPage me={me} />,
  '/inbox': (me) => <InboxPage me={me} />,
  '/knowledge': (me) => <KnowledgePage me={me} />,
  '/assistant': (me) => <AssistantPage me={me} />,
  '/evaluations': (me) => <EvaluationsPage me={me} />,
  '/channels': (me) => <ChannelsPage me={me} />,
  '/functions': (me) => <FunctionsPage me={me} />,
  '/webhooks': (me) => <WebhooksPage me={me} />,
  '/team': (me) => <TeamPage me={me} />,
  '/api-keys': (me) => <ApiKeysPage me={me} />,
  '/usage': (me) => <UsagePage me={me} />,
  '/account': (me) => <AccountPage me={me} />,
};

export function App() {
  const path = usePath();
  const { me } = useSession();
  const publicPage = PUBLIC[path];
  const needsSignIn = !publicPage && me === null;
  useEffect(() => {
    if (needsSignIn) navigate('/sign-in', { replace: true });
  }, [needsSignIn]);

  if (publicPage) return publicPage();
  if (!me) return <p className="loading" aria-busy="true">Loading…</p>;
  const page = SIGNED_IN[path];
  const section = SECTIONS.find((s) => s.path === path);
  let body: ReactNode;
  if (!page) body = <><h1>Not found</h1><p>There is no such page.</p></>;
  else if (section && !mayUse(section, me.user.role)) body = <><h1>{section.name}</h1><p className="problem" id="not-allowed" role="alert">Your role ({me.user.role}) does not give access to {section.name}.</p></>;
  else body = page(me);
  return <Shell me={me}>{body}</Shell>;
}
