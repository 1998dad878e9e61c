// A real OpenID provider for Ostiary's tests: panva's certified `oidc-provider`
// on loopback over HTTPS (the test CA), with the clients, accounts and signing
// keys the tests give it in a JSON file:
//
//   node oidc-provider-server.mjs CONFIG.json
//
// CONFIG: {issuer, port, host, cert, key, jwks: {keys: [private JWK]}, clients: [...],
//          accounts: {login: {claims}}}
//
// Sign-in uses the provider's own development login form: a login that is
// one of `accounts` (any password). Consent is granted for the registered
// clients, as a workforce provider does for an admin-approved application.
//
// TEST-ONLY controls under /__test/ (a real provider never has these):
//   POST /__test/mangle {"mode": ...}  the next token response carries an ID
//     token no real provider would issue (tampered, wrong audience or issuer,
//     expired, another nonce, alg none, a key the JWKS never had, HS256 keyed
//     with the public key), re-minted here with `jose`, oidc-provider's own
//     JOSE library; or, with mode "token-error", the token endpoint fails.
//   POST /__test/account {"login": ..., "claims": {...}}  changes an account's
//     claims (an email renamed at the provider, groups changed upstream).
import fs from 'node:fs';
import https from 'node:https';

import * as jose from 'jose';
import Provider from 'oidc-provider';

const config = JSON.parse(fs.readFileSync(process.argv[2], 'utf8'));
const accounts = config.accounts;
let mangle = null;

const provider = new Provider(config.issuer, {
  clients: config.clients,
  jwks: config.jwks,
  pkce: { required: () => true },
  scopes: ['openid', 'email', 'profile', 'groups', 'offline_access'],
  claims: {
    openid: ['sub'],
    email: ['email', 'email_verified'],
    profile: ['name', 'preferred_username', 'nickname'],
    groups: ['groups'],
  },
  features: { devInteractions: { enabled: true } },
  cookies: { keys: ['test-cookie-key-not-secret'] },
  async findAccount(ctx, sub) {
    if (!accounts[sub]) return undefined;
    return { accountId: sub, claims: async () => ({ sub, ...accounts[sub] }) };
  },
  async loadExistingGrant(ctx) {
    // Consent as given: every scope and claim the client asked for.
    const grant = new ctx.oidc.provider.Grant({ clientId: ctx.oidc.client.clientId, accountId: ctx.oidc.session.accountId });
    grant.addOIDCScope(ctx.oidc.params.scope);
    await grant.save();
    return grant;
  },
  ttl: { AccessToken: 600, AuthorizationCode: 60, IdToken: 600, Interaction: 600, Session: 3600, Grant: 3600 },
});
provider.proxy = false;

async function remint(idToken, mode) {
  const payload = jose.decodeJwt(idToken);
  const header = jose.decodeProtectedHeader(idToken);
  const key = config.jwks.keys[0];
  const now = Math.floor(Date.now() / 1000);
  const signed = async (claims, alg = header.alg, kid = header.kid, signingKey = null) =>
    new jose.SignJWT(claims).setProtectedHeader({ alg, kid, typ: 'JWT' })
      .sign(signingKey || await jose.importJWK(key, alg));
  switch (mode) {
    case 'tampered': {
      const [h, , s] = idToken.split('.');
      const body = Buffer.from(JSON.stringify({ ...payload, sub: 'someone-else' })).toString('base64url');
      return `${h}.${body}.${s}`;
    }
    case 'wrong-audience': return signed({ ...payload, aud: 'another-client' });
    case 'wrong-issuer': return signed({ ...payload, iss: 'https://issuer.evil.test' });
    case 'expired': return signed({ ...payload, iat: now - 7200, exp: now - 3600 });
    case 'other-nonce': return signed({ ...payload, nonce: 'a-nonce-this-browser-never-sent' });
    case 'alg-none': {
      const h = Buffer.from(JSON.stringify({ alg: 'none', typ: 'JWT' })).toString('base64url');
      const body = Buffer.from(JSON.stringify(payload)).toString('base64url');
      return `${h}.${body}.`;
    }
    case 'unknown-kid': {
      const { privateKey } = await jose.generateKeyPair('RS256', { extractable: true });
      return signed(payload, 'RS256', 'a-key-the-jwks-never-had', privateKey);
    }
    case 'hs256-public-key': {
      // The classic confusion: HMAC keyed with the provider's public key.
      const publicJwk = { kty: key.kty, n: key.n, e: key.e };
      const pem = await jose.exportSPKI(await jose.importJWK(publicJwk, 'RS256'));
      return signed(payload, 'HS256', header.kid, new TextEncoder().encode(pem));
    }
    default: throw new Error(`unknown mangle mode ${mode}`);
  }
}

async function readJson(req) {
  const chunks = [];
  for await (const chunk of req) chunks.push(chunk);
  return JSON.parse(Buffer.concat(chunks).toString('utf8') || '{}');
}

provider.use(async (ctx, next) => {
  if (ctx.path === '/__test/mangle' && ctx.method === 'POST') {
    mangle = (await readJson(ctx.req)).mode || null;
    ctx.body = { mangle };
    return;
  }
  if (ctx.path === '/__test/account' && ctx.method === 'POST') {
    const { login, claims } = await readJson(ctx.req);
    accounts[login] = { ...(accounts[login] || {}), ...claims };
    ctx.body = { login, claims: accounts[login] };
    return;
  }
  await next();
  if (ctx.path === '/token' && mangle && ctx.status === 200 && ctx.body && ctx.body.id_token) {
    const mode = mangle;
    mangle = null;
    if (mode === 'token-error') {
      ctx.status = 503;
      ctx.body = { error: 'temporarily_unavailable' };
      return;
    }
    ctx.body = { ...ctx.body, id_token: await remint(ctx.body.id_token, mode) };
  }
});

const server = https.createServer({ cert: fs.readFileSync(config.cert), key: fs.readFileSync(config.key) },
  provider.callback());
server.listen(config.port, config.host, () => {
  process.stdout.write(`listening ${config.issuer}\n`);
});
