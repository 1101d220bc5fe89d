// A small HTML view of the fake Planfix for people (the demo): every chat with what arrived from
// Telegram, the replies sent from this page and the delivery reports, plus a reply box per chat.
// Read-only apart from the reply box, which posts to /_control/page/reply.
import type { PlanfixReply, PlanfixTask, ReceivedCommand } from "./server.ts";

export interface ChatsPageInput {
  tasks: PlanfixTask[];
  /** Accepted newMessage commands. */
  messages: ReceivedCommand[];
  /** Accepted messageStatus commands. */
  statuses: ReceivedCommand[];
  replies: PlanfixReply[];
  /** Where replies go (the appliance's /planfix), or null when no integration is set up. */
  replyTo: string | null;
}

const esc = (s: string) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
const time = (at: number) => new Date(at).toISOString().slice(11, 19);

type Entry = { at: number; html: string };

function statusText(statuses: ReceivedCommand[], messageId: string): string {
  const last = statuses.filter((s) => s.fields.messageId === messageId).at(-1);
  if (!last) return "waiting for a delivery report";
  const extra = last.fields.messageStatusText ? `: ${last.fields.messageStatusText}` : "";
  return `${last.fields.messageStatus}${extra}`;
}

export function renderChatsPage(input: ChatsPageInput): string {
  const chatIds = [...new Set([...input.tasks.map((t) => t.chatId), ...input.replies.map((r) => r.chatId)])];
  const ownIds = new Set(input.replies.map((r) => r.messageId));
  const chats = chatIds.map((chatId) => {
    const task = input.tasks.find((t) => t.chatId === chatId);
    const entries: Entry[] = [];
    for (const m of input.messages.filter((c) => c.fields.chatId === chatId)) {
      const who = [m.fields.contactName, m.fields.contactLastName].filter(Boolean).join(" ");
      const files = m.attachments.map((a) => ` <a href="${esc(a.url)}">📎 ${esc(a.name)}</a>`).join("");
      const label = m.fields.isEcho === "true" ? "owner, on another device" : who;
      entries.push({ at: m.at, html: `<li class="in"><span class="t">${time(m.at)}</span> <b>${esc(label)}</b>: ${esc(m.fields.message ?? "")}${files}</li>` });
    }
    for (const r of input.replies.filter((x) => x.chatId === chatId)) {
      const state = r.status === 200 ? statusText(input.statuses, r.messageId) : `not accepted (${r.status}): ${r.answer}`;
      entries.push({ at: r.at, html: `<li class="out"><span class="t">${time(r.at)}</span> <b>Planfix</b>: ${esc(r.message)} <i>— ${esc(state)}</i></li>` });
    }
    entries.sort((a, b) => a.at - b.at);
    const box = input.replyTo
      ? `<form method="post" action="/_control/page/reply"><input type="hidden" name="chatId" value="${esc(chatId)}"><textarea name="message" rows="2" cols="60" placeholder="Reply as a Planfix employee"></textarea> <button>Send</button></form>`
      : "";
    const title = task ? `Task #${task.number}${task.title ? ` — ${esc(task.title)}` : ""}` : "Chat";
    return `<section><h2>${title}</h2><p class="id">chatId ${esc(chatId)}</p><ul>${entries.map((e) => e.html).join("")}</ul>${box}</section>`;
  });
  // Reports for messages sent some other way (e.g. a webhook posted with curl).
  const others = input.statuses.filter((s) => !ownIds.has(s.fields.messageId ?? ""));
  const reports = others.length
    ? `<section><h2>Delivery reports</h2><ul>${others
        .map(
          (s) =>
            `<li><span class="t">${time(s.at)}</span> message ${esc(s.fields.messageId ?? "")}: ${esc(s.fields.messageStatus ?? "")}${s.fields.messageStatusText ? ` — ${esc(s.fields.messageStatusText)}` : ""}</li>`,
        )
        .join("")}</ul></section>`
    : "";
  const empty = chats.length === 0 ? "<p>No chats yet: nothing has arrived from Telegram.</p>" : "";
  const replyNote = input.replyTo ? `Replies are posted to ${esc(input.replyTo)}.` : "No integration is set up, so there is no reply box.";
  return `<!doctype html><html><head><meta charset="utf-8"><title>Fake Planfix — chats</title>
<style>body{font:15px system-ui,sans-serif;max-width:900px;margin:2em auto;padding:0 1em}section{border:1px solid #ccc;border-radius:6px;padding:.5em 1em;margin:1em 0}
ul{list-style:none;padding:0}li{margin:.3em 0}.out{text-align:right}.t{color:#888;font-size:12px}.id{color:#888;font-size:12px;margin:0}</style></head>
<body><h1>Fake Planfix — chats</h1><p>What this Planfix received from the appliance. ${replyNote} The page refreshes by itself while no reply is being typed.</p>
${empty}${chats.join("\n")}${reports}
<script>setInterval(()=>{if(![...document.querySelectorAll("textarea")].some(t=>t.value||t===document.activeElement))location.reload()},3000)</script>
</body></html>`;
}
