// What LibreChat's refresh controller decides about Cookie headers: it reads
// the cookie with the `cookie` package (cookies.parse(req.headers.cookie)) and
// verifies it with jsonwebtoken's jwt.verify(token, JWT_REFRESH_SECRET), no
// options. Reads a JSON array from stdin, each {secret, cookieHeader,
// cookieName, clockTimestamp}; prints an array of {valid, id?, error?}.
'use strict';
const cookies = require('cookie');
const jwt = require('jsonwebtoken');

function verdict(request) {
  const token = cookies.parse(request.cookieHeader)[request.cookieName];
  try {
    // clockTimestamp only pins "now" for the comparison with Ostiary.
    const payload = jwt.verify(token, request.secret, { clockTimestamp: request.clockTimestamp });
    return { valid: true, id: payload.id };
  } catch (error) {
    return { valid: false, error: error.message };
  }
}

let input = '';
process.stdin.on('data', (chunk) => { input += chunk; });
process.stdin.on('end', () => {
  process.stdout.write(JSON.stringify(JSON.parse(input).map(verdict)));
});
