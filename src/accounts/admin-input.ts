// Input of the token and removal operations, validated with valibot.
import * as v from "valibot";
import { NumberField } from "./input.ts";

const Name = v.pipe(v.string("must be a string"), v.trim(), v.minLength(1, "must not be empty"), v.maxLength(200, "must be at most 200 characters (client name)"));

/** `delete_session`: true/false as a JSON boolean or the query-string words; absent = false. */
const DeleteSession = v.optional(
  v.pipe(
    v.union([v.boolean(), v.picklist(["true", "false", "1", "0"])], "must be true or false"),
    v.transform((x) => x === true || x === "true" || x === "1"),
  ),
  false,
);

/** POST /client/token: which client (the admin token must name it; a client token may). */
export const RotateInput = v.object({ name: v.optional(Name) });

/** DELETE /admin/number */
export const RemoveNumberInput = v.object({ number: NumberField, delete_session: DeleteSession });

/** DELETE /admin/client */
export const RemoveClientInput = v.object({ name: Name, delete_session: DeleteSession });

export type RotateInput = v.InferOutput<typeof RotateInput>;
export type RemoveNumberInput = v.InferOutput<typeof RemoveNumberInput>;
export type RemoveClientInput = v.InferOutput<typeof RemoveClientInput>;
