// Verifies one webhook delivery with the official Node SDK, the way a receiving app does:
// `client.webhooks.unwrap(rawBody, {headers, key: secret})` (Standard Webhooks, spec
// webhooks.md §1). Reads one JSON document from stdin:
//   {"body": "<raw request body>", "headers": {"webhook-id": ..., ...}, "secret": "whsec_..."}
// On success prints the unwrapped event as JSON on stdout and exits 0; on a refusal (bad
// signature, stale timestamp, missing headers, a body that is not JSON) prints the SDK's error
// on stderr and exits 1. Anything else (bad stdin) exits 2, so a caller can tell a refusal from
// a broken run.
//
// It talks to no server, so unlike the other scripts it does not import common.mjs (which
// requires the FOLIO_* server environment).
import ImageKit from '@imagekit/nodejs';

async function readStdin() {
  const chunks = [];
  for await (const chunk of process.stdin) chunks.push(chunk);
  return Buffer.concat(chunks).toString('utf8');
}

/** The exit code: 0 verified, 1 refused by the SDK, 2 unusable input. */
async function main() {
  let input;
  try {
    input = JSON.parse(await readStdin());
  } catch (e) {
    console.error(`webhook_unwrap: stdin is not JSON: ${e.message}`);
    return 2;
  }
  const { body, headers, secret } = input ?? {};
  // `unwrap` skips verification altogether when `headers` is undefined, so a malformed input
  // must not be allowed to turn into an unverified "success".
  if (
    typeof body !== 'string' ||
    typeof secret !== 'string' ||
    headers === null ||
    typeof headers !== 'object' ||
    Array.isArray(headers)
  ) {
    console.error('webhook_unwrap: stdin must be {"body": string, "headers": object, "secret": string}');
    return 2;
  }

  // The client needs a private key to be constructed, but unwrap never uses it: the webhook
  // secret is a separate credential (spec §1). Both are passed explicitly so that nothing from
  // the caller's IMAGEKIT_* environment (IMAGEKIT_WEBHOOK_SECRET in particular) is picked up.
  const client = new ImageKit({
    privateKey: process.env.FOLIO_PRIVATE_KEY || 'private_unused_by_unwrap',
    webhookSecret: null,
  });

  let event;
  try {
    event = client.webhooks.unwrap(body, { headers, key: secret });
  } catch (e) {
    console.error(`webhook_unwrap: refused: ${e?.name ?? 'Error'}: ${e?.message ?? e}`);
    return 1;
  }
  console.log(JSON.stringify(event));
  return 0;
}

// exitCode rather than exit(): lets a piped stdout drain before the process ends.
process.exitCode = await main();
