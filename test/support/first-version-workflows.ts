// The workflows as the first build ran them, for the upgrade test: the conversation workflow is
// the frozen first version without its drain points, every other workflow as it is now.
import { conversationV1 } from '../../workflows/legacy/conversation-v1.ts';
import type { ConversationInput } from '../../workflows/types.ts';

export * from '../../workflows/index.ts';

export async function conversation(input: ConversationInput): Promise<void> {
  return conversationV1(input, { drain: false });
}
