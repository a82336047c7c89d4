// The sections of the signed-in app, in the order of the navigation. A section with a `path` is
// built and linked; the others are named so people see what is coming. `roles` is who may use
// it (the API decides; this only keeps the navigation honest): agents see the conversations only.
import type { Role } from './api/client';

export interface Section {
  name: string;
  path?: string;
  roles: readonly Role[];
}

const EVERYONE = ['owner', 'admin', 'agent'] as const;
const MANAGERS = ['owner', 'admin'] as const;

export const SECTIONS: readonly Section[] = [
  { name: 'Overview', path: '/', roles: EVERYONE },
  { name: 'Inbox', path: '/inbox', roles: EVERYONE },
  { name: 'Knowledge', path: '/knowledge', roles: MANAGERS },
  { name: 'Assistant', path: '/assistant', roles: MANAGERS },
  { name: 'Evaluations', path: '/evaluations', roles: MANAGERS },
  { name: 'Channels', path: '/channels', roles: MANAGERS },
  { name: 'Functions', path: '/functions', roles: MANAGERS },
  { name: 'Webhooks', path: '/webhooks', roles: MANAGERS },
  { name: 'Team', path: '/team', roles: MANAGERS },
  { name: 'API keys', path: '/api-keys', roles: MANAGERS },
  { name: 'Usage', path: '/usage', roles: MANAGERS },
];

export const mayUse = (section: Section, role: Role) => section.roles.includes(role);
