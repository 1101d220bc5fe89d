import { Elysia } from "elysia";

const port = Number(process.env.PORT ?? 8080);
const host = process.env.HOST ?? "0.0.0.0";

new Elysia().get("/health", () => ({ status: "ok" })).listen({ port, hostname: host });
console.log(JSON.stringify({ level: "info", msg: "listening", host, port }));
