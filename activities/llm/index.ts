// Reply generation. Only the offline local provider exists so far; tenant-chosen providers
// (OpenAI, Anthropic) plug in behind the same activity.
import { localReply, type Reply, type ReplyRequest } from './local.ts';

export type { Reply, ReplyRequest } from './local.ts';

export function createLlmActivities() {
  return {
    async generateReply(request: ReplyRequest & { tenantId: string }): Promise<Reply> {
      return localReply(request);
    },
  };
}
