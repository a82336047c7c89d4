// The signed-in frame: a header with the user, their role and tenant and a sign-out button, and
// the navigation of the sections this role may use.
import type { ReactNode } from 'react';
import type { Me } from './api/client';
import { Link, navigate, usePath } from './router';
import { mayUse, SECTIONS } from './sections';
import { useSession } from './session';

export function Shell({ me, children }: { me: Me; children: ReactNode }) {
  const { signOut } = useSession();
  const path = usePath();

  async function onSignOut() {
    await signOut();
    navigate('/sign-in', { replace: true });
  }

  return (
    <div className="shell">
      <header className="topbar">
        <span className="brand">Meta Chat</span>
        <span className="tenant" id="tenant-name">{me.tenant.name}</span>
        <span className="whoami" id="whoami">
          <Link to="/account" className="user" aria-current={path === '/account' ? 'page' : undefined}>{me.user.name ?? me.user.email}</Link>
          <span className={`role role-${me.user.role}`} id="role">{me.user.role}</span>
        </span>
        <button type="button" className="secondary" id="sign-out" onClick={onSignOut}>Sign out</button>
      </header>
      <nav className="sections" aria-label="Sections">
        <ul>
          {SECTIONS.filter((s) => mayUse(s, me.user.role)).map((s) => (
            <li key={s.name}>
              {s.path ? (
                <Link to={s.path} aria-current={path === s.path ? 'page' : undefined}>{s.name}</Link>
              ) : (
                <span className="soon" title="Coming soon">{s.name}</span>
              )}
            </li>
          ))}
        </ul>
      </nav>
      <main className="content">{children}</main>
    </div>
  );
}
