# An independent MTProto client (Telethon, from Debian's python3-telethon) against the loopback server:
# connects with a pre-shared key (StringSession), calls users.getUsers([self]) and prints one JSON line:
# {"layer": N, "ok": true, "firstName": ...} or {"layer": N, "ok": false, "error": <class>, "code", "message"}.
# Telethon 1.25's key exchange pads RSA the pre-2021 way (no RSA_PAD), which the loopback does not
# accept, hence the pre-shared key.
# Usage: python3 telethon-probe.py DC:KEY_BASE64 HOST PORT TRANSPORT [SECRET [PROXY_HOST PROXY_PORT]]
# (an MTProxy transport goes to PROXY_HOST:PROXY_PORT when given, else to HOST:PORT itself)
import asyncio, base64, ipaddress, json, struct, sys

from telethon import TelegramClient, errors, connection
from telethon.sessions import StringSession
from telethon.tl.alltlobjects import LAYER

TRANSPORTS = {
    "full": connection.ConnectionTcpFull,
    "abridged": connection.ConnectionTcpAbridged,
    "intermediate": connection.ConnectionTcpIntermediate,
    "obfuscated": connection.ConnectionTcpObfuscated,
    "mtproxy-intermediate": connection.ConnectionTcpMTProxyIntermediate,
    "mtproxy-padded": connection.ConnectionTcpMTProxyRandomizedIntermediate,
}


async def main():
    dc_key_b64, host, port, transport = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
    dc_id, key = int(dc_key_b64.split(":")[0]), base64.b64decode(dc_key_b64.split(":")[1])
    packed = struct.pack(">B4sH256s", dc_id, ipaddress.ip_address(host).packed, port, key)
    session = StringSession("1" + base64.urlsafe_b64encode(packed).decode())
    kwargs = {}
    if transport.startswith("mtproxy"):
        proxy_host, proxy_port = (sys.argv[6], int(sys.argv[7])) if len(sys.argv) > 7 else (host, port)
        kwargs["proxy"] = (proxy_host, proxy_port, sys.argv[5])
    client = TelegramClient(session, 1, "loopback", connection=TRANSPORTS[transport],
                            connection_retries=0, retry_delay=0, request_retries=1, timeout=5,
                            receive_updates=False, **kwargs)
    out = {"layer": LAYER, "transport": transport}
    try:
        await asyncio.wait_for(client.connect(), 10)
        me = await asyncio.wait_for(client.get_me(), 10)
        out.update(ok=True, firstName=me.first_name, id=me.id)
    except errors.RPCError as e:
        out.update(ok=False, error=type(e).__name__, code=e.code, message=e.message)
    except Exception as e:  # a refusal must be clean: anything else is reported, and the test fails
        out.update(ok=False, error=type(e).__name__, message=str(e))
    finally:
        try:
            await asyncio.wait_for(client.disconnect(), 5)
        except Exception:
            pass
    print(json.dumps(out), flush=True)


asyncio.run(main())
