// A relying party made with panva's certified `openid-client` (npm), for Ostiary's
// issuer tests (tests/issuer/). One command per run: a JSON request on stdin, a JSON
// answer on stdout. Every host name is sent to 127.0.0.1 (like Chromium's
// --host-resolver-rules), and the test CA is trusted through NODE_EXTRA_CA_CERTS.
//
//   {"command": "start", "issuer", "client_id", "client_secret"?, "redirect_uri", "scope"}
//   {"command": "callback", ..., "callback_url", "verifier", "state", "nonce"}
//   {"command": "userinfo" | "refresh" | "revoke" | "introspect", ..., "token", "sub"?}
//   {"command": "end_session_url", ..., "id_token_hint", "post_logout_redirect_uri", "state"}
import * as client from 'openid-client';
import { Agent, fetch as undiciFetch } from 'undici';
import dns from 'node:dns';
import fs from 'node:fs';

const loopback = new Agent({
  connect: {
    lookup: (_host, options, callback) => dns.lookup('127.0.0.1', options, callback),
    ca: process.env.NODE_EXTRA_CA_CERTS ? fs.readFileSync(process.env.NODE_EXTRA_CA_CERTS) : undefined,
  },
});
const loopbackFetch = (url, options) => undiciFetch(url, { ...options, dispatcher: loopback });

const input = JSON.parse(fs.readFileSync(0, 'utf8'));

async function configure() {
  const auth = input.client_secret ? client.ClientSecretBasic(input.client_secret) : client.None();
  const config = await client.discovery(new URL(input.issuer), input.client_id, input.client_secret || undefined,
    auth, { [client.customFetch]: loopbackFetch });
  config[client.customFetch] = loopbackFetch;
  return config;
}

async function run() {
  const config = await configure();
  switch (input.command) {
    case 'start': {
      const verifier = client.randomPKCECodeVerifier();
      const nonce = client.randomNonce();
      const state = client.randomState();
      const url = client.buildAuthorizationUrl(config, {
        redirect_uri: input.redirect_uri, scope: input.scope, code_challenge: await client.calculatePKCECodeChallenge(verifier),
        code_challenge_method: 'S256', nonce, state,
      });
      return { url: url.href, verifier, nonce, state, server: config.serverMetadata() };
    }
    case 'callback': {
      const tokens = await client.authorizationCodeGrant(config, new URL(input.callback_url), {
        pkceCodeVerifier: input.verifier, expectedNonce: input.nonce, expectedState: input.state, idTokenExpected: true,
      });
      return { tokens: { ...tokens }, claims: tokens.claims() };
    }
    case 'userinfo':
      return { userinfo: await client.fetchUserInfo(config, input.token, input.sub) };
    case 'refresh': {
      const tokens = await client.refreshTokenGrant(config, input.token);
      return { tokens: { ...tokens } };
    }
    case 'revoke':
      await client.tokenRevocation(config, input.token);
      return { revoked: true };
    case 'introspect':
      return { introspection: await client.tokenIntrospection(config, input.token) };
    case 'end_session_url': {
      const url = client.buildEndSessionUrl(config, {
        id_token_hint: input.id_token_hint, post_logout_redirect_uri: input.post_logout_redirect_uri, state: input.state,
      });
      return { url: url.href };
    }
    default:
      throw new Error(`unknown command ${input.command}`);
  }
}

run().then(
  (answer) => { process.stdout.write(JSON.stringify({ ok: true, ...answer })); },
  (err) => {
    process.stdout.write(JSON.stringify({
      ok: false, name: err.name, code: err.code, message: err.message, error: err.error,
      error_description: err.error_description, status: err.status,
    }));
  },
);
