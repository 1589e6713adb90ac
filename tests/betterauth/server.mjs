// A real Better Auth server for threadstore's integration tests (tests/integration/
// test_better_auth.py): email and password sign-up, the jwt plugin, its tables on the test
// PostgreSQL in a schema of its own. Not for production: the secret comes from the test.
//
// Environment:
//   DATABASE_URL        the test PostgreSQL (postgresql://...)
//   BA_SCHEMA           the schema for Better Auth's tables; dropped and created anew at start
//   BA_ALG              the jwt plugin's key algorithm: EdDSA (the plugin's default), ES256,
//                       ES512, RS256 or PS256
//   BA_ROTATION         seconds: jwks.rotationInterval (unset: no rotation)
//   BETTER_AUTH_SECRET  32+ characters
// It listens on 127.0.0.1 on a free port, sets baseURL to that origin (so iss and aud are
// "http://127.0.0.1:PORT", whatever Host a request carries) and prints one line to stdout:
//   {"listening":"http://127.0.0.1:PORT"}

import http from "node:http";
import pg from "pg";
import { betterAuth } from "better-auth";
import { jwt } from "better-auth/plugins/jwt";
import { toNodeHandler } from "better-auth/node";
import { getMigrations } from "better-auth/db/migration";

function need(name) {
  const v = process.env[name];
  if (!v) {
    console.error(`betterauth: ${name} is not set`);
    process.exit(2);
  }
  return v;
}

const databaseUrl = need("DATABASE_URL");
const schema = need("BA_SCHEMA");
if (!/^[a-z_][a-z0-9_]{0,62}$/.test(schema)) {
  console.error("betterauth: BA_SCHEMA must be a plain lower-case identifier");
  process.exit(2);
}
const alg = process.env.BA_ALG || "EdDSA";
const rotation = process.env.BA_ROTATION ? Number(process.env.BA_ROTATION) : undefined;

// The schema first, on a connection of its own; then a pool whose every connection
// searches only that schema, so Better Auth's tables ("user", "session", "jwks", ...) live
// there and never meet threadstore's.
{
  const c = new pg.Client({ connectionString: databaseUrl });
  await c.connect();
  await c.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
  await c.query(`CREATE SCHEMA ${schema}`);
  await c.end();
}
const pool = new pg.Pool({
  connectionString: databaseUrl,
  options: `-c search_path=${schema}`,
  max: 4,
});

const server = http.createServer();
await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
const origin = `http://127.0.0.1:${server.address().port}`;

const keyPairConfig = alg === "EdDSA" ? { alg, crv: "Ed25519" } : { alg };
const auth = betterAuth({
  baseURL: origin,
  secret: need("BETTER_AUTH_SECRET"),
  database: pool,
  emailAndPassword: { enabled: true },
  telemetry: { enabled: false },
  plugins: [
    jwt({
      jwks: { keyPairConfig, ...(rotation ? { rotationInterval: rotation } : {}) },
      jwt: {
        // Only what threadstore needs: the default payload is the whole user row (an
        // image as a data: URL made tokens of 9.5 KB, past threadstore's 8192-byte limit).
        definePayload: ({ user }) => ({ email: user.email }),
        expirationTime: "15m",
      },
    }),
  ],
});

const { runMigrations } = await getMigrations(auth.options);
await runMigrations();

server.on("request", toNodeHandler(auth));
process.stdout.write(JSON.stringify({ listening: origin }) + "\n");

function stop() {
  server.close();
  pool.end().finally(() => process.exit(0));
  setTimeout(() => process.exit(0), 2000).unref();
}
process.on("SIGTERM", stop);
process.on("SIGINT", stop);
