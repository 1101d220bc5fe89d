// The chatId we give Planfix names the number and the Telegram user: `<number>_<user id>`.
// So a reply always leaves from the number the customer wrote to, even when Planfix omits `channel`.
export const chatIdFor = (number: string, userId: string): string => `${number}_${userId}`;

export function parseChatId(chatId: string): { number: string; userId: string } | null {
  const m = /^(\d{5,15})_(\d{1,20})$/.exec(chatId.trim());
  return m ? { number: m[1]!, userId: m[2]! } : null;
}
