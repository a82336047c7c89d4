// `npm run fake:graph`: a local stand-in for Meta's Graph API (the one the tests use), to try the
// platform without a Meta app: run `META_GRAPH_API_URL=http://127.0.0.1:4010/v21.0 npm run dev`
// and every reply the platform sends is printed here instead of reaching WhatsApp or Messenger.
import { startFakeGraphApi } from '../test/fakes/graph-api.ts';

const port = Number(process.env.FAKE_GRAPH_PORT ?? 4010);
const graph = await startFakeGraphApi({ port });
console.log(`Fake Graph API at ${graph.url} (set META_GRAPH_API_URL to it). Ctrl-C stops it.`);

let shown = 0;
const timer = setInterval(() => {
  for (const d of graph.delivered.slice(shown)) console.log(`[${d.channel}] to ${d.to}: ${d.text}`);
  shown = graph.delivered.length;
}, 200);

process.on('SIGINT', () => {
  clearInterval(timer);
  void graph.close().then(() => process.exit(0));
});
