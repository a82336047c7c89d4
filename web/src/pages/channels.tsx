// The channels page (being built).
import type { Me } from '../api/client';

export function ChannelsPage(_: { me: Me }) {
  return <h1>Channels</h1>;
}
