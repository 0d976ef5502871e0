// node-postgres (`pg`) against a running Oxbow: node smoke.js PORT TABLE_PREFIX
//
// Runs a fixed list of independent checks and prints one line per check:
//   CHECK <name> PASS
//   CHECK <name> FAIL <what went wrong>
// plus "INFO <key> <value>" lines. tests/clients/test_node.py runs it once (NODE_PATH points at
// the cached node_modules holding `pg`) and turns each CHECK line into its own pytest test.
'use strict';

const assert = require('assert');
const { Client } = require('pg');

const port = Number(process.argv[2]);
const prefix = process.argv[3];
const all = `${prefix}_all`;

const TEXT = "héllo ✓ 'quoted' \\ back";
const BYTES = Buffer.from([0, 1, 0xfe, 0xff, 0x5c, 0x27]);
const JSON_VALUE = { a: [1, 2], b: 'x' };
// timestamptz 2024-01-02 03:04:05.5+02 is this instant:
const TSTZ_MS = Date.UTC(2024, 0, 2, 1, 4, 5, 500);

// name, SQL type, parameter, check of what comes back, PostgreSQL type oid in the RowDescription
const TYPES = [
  ['boolean', 'boolean', true, (v) => assert.strictEqual(v, true), 16],
  ['smallint', 'smallint', 12345, (v) => assert.strictEqual(v, 12345), 21],
  ['integer', 'integer', 2147483647, (v) => assert.strictEqual(v, 2147483647), 23],
  // pg returns int8 as a string by default (it does not fit a JS number)
  ['bigint', 'bigint', '9223372036854775807', (v) => assert.strictEqual(v, '9223372036854775807'), 20],
  ['real', 'real', 1.25, (v) => assert.strictEqual(v, 1.25), 700],
  ['double', 'double precision', Math.PI, (v) => assert.strictEqual(v, Math.PI), 701],
  // pg returns numeric as a string by default, exactly as the server printed it
  ['numeric', 'numeric(12,3)', '12345.678', (v) => assert.strictEqual(v, '12345.678'), 1700],
  ['text', 'text', TEXT, (v) => assert.strictEqual(v, TEXT), 25],
  ['varchar', 'varchar(20)', 'varchar', (v) => assert.strictEqual(v, 'varchar'), 1043],
  ['bytea', 'bytea', BYTES, (v) => { assert.ok(Buffer.isBuffer(v), `not a Buffer: ${typeof v}`); assert.ok(v.equals(BYTES), `bytes ${v.toString('hex')}`); }, 17],
  // date and timestamp come back as JS Dates at local midnight / local time (TZ=UTC in the test)
  ['date', 'date', '2024-02-29', (v) => { assert.ok(v instanceof Date, `not a Date: ${v}`); assert.strictEqual(v.getTime(), Date.UTC(2024, 1, 29)); }, 1082],
  ['timestamp', 'timestamp', '2024-01-02 03:04:05.123', (v) => { assert.ok(v instanceof Date, `not a Date: ${v}`); assert.strictEqual(v.getTime(), Date.UTC(2024, 0, 2, 3, 4, 5, 123)); }, 1114],
  ['timestamptz', 'timestamptz', new Date(TSTZ_MS), (v) => { assert.ok(v instanceof Date, `not a Date: ${v}`); assert.strictEqual(v.getTime(), TSTZ_MS); }, 1184],
  // pg parses json/jsonb into objects; a JS object parameter is sent as JSON text
  ['jsonb', 'jsonb', JSON_VALUE, (v) => assert.deepStrictEqual(v, JSON_VALUE), 3802],
];

function info(key, value) { console.log(`INFO ${key} ${value}`); }

async function check(name, fn) {
  const t0 = Date.now();
  try {
    await fn();
    console.log(`CHECK ${name} PASS ${Date.now() - t0}ms`);
  } catch (e) {
    const code = e.code ? `[${e.code}] ` : '';
    console.log(`CHECK ${name} FAIL ${code}${String(e.message).replace(/\s+/g, ' ')}`);
  }
}

async function expectCode(client, sql, params, code) {
  let error = null;
  try {
    await client.query(sql, params);
  } catch (e) {
    error = e;
  }
  assert.ok(error, `no error for ${sql}`);
  assert.strictEqual(error.code, code, `code of "${error.message}"`);
  const r = await client.query('SELECT 40 + 2 AS answer');
  assert.strictEqual(Number(r.rows[0].answer), 42, 'connection usable after the error');
}

async function main() {
  const client = new Client({ host: '127.0.0.1', port, user: 'anyone', database: 'oxbow', connectionTimeoutMillis: 10000 });
  let connected = false;
  await check('connect', async () => {
    await client.connect();
    connected = true;
    const r = await client.query('SELECT version() AS v');
    info('server', r.rows[0].v);
    info('pg', require('pg/package.json').version);
  });
  if (!connected) return;

  const cols = TYPES.map(([name, type]) => `v_${name} ${type}`).join(', ');
  await check('create_table', async () => {
    await client.query(`CREATE TABLE ${all} (id integer, ${cols})`);
    await client.query(`INSERT INTO ${all} (id) VALUES ($1)`, [0]); // the all-NULL row
  });

  for (const [name, , param, expect] of TYPES) {
    await check(`type_${name}`, async () => {
      const id = TYPES.findIndex((t) => t[0] === name) + 1;
      const ins = await client.query(`INSERT INTO ${all} (id, v_${name}) VALUES ($1, $2)`, [id, param]);
      assert.strictEqual(ins.rowCount, 1, 'rowCount');
      const r = await client.query(`SELECT v_${name} AS v FROM ${all} WHERE id = $1`, [id]);
      assert.strictEqual(r.rows.length, 1, 'one row');
      expect(r.rows[0].v);
      const nul = await client.query(`SELECT v_${name} AS v FROM ${all} WHERE id = 0`);
      assert.strictEqual(nul.rows[0].v, null, 'NULL');
    });
  }

  await check('row_description_type_oids', async () => {
    const r = await client.query(`SELECT * FROM ${all} WHERE id = 0`);
    const got = r.fields.map((f) => `${f.name}:${f.dataTypeID}`);
    const want = ['id:23', ...TYPES.map(([name, , , , oid]) => `v_${name}:${oid}`)];
    assert.deepStrictEqual(got, want);
  });

  await check('integer_literal_is_int4', async () => {
    // In PostgreSQL an integer literal that fits is int4, so `SELECT 1` is a JS number.
    const r = await client.query('SELECT 1 AS one, 1 + 1 AS two');
    assert.deepStrictEqual(r.fields.map((f) => f.dataTypeID), [23, 23], 'type oids');
    assert.deepStrictEqual(r.rows[0], { one: 1, two: 2 });
  });

  await check('named_prepared_statement', async () => {
    // `name` makes pg Parse once and then only Bind/Execute on the next calls.
    await client.query(`CREATE TABLE ${prefix}_named (id bigint, name text)`);
    for (let i = 0; i < 20; i++) {
      await client.query({ name: 'ins', text: `INSERT INTO ${prefix}_named VALUES ($1, $2)`, values: [i, `n${i}`] });
    }
    const r = await client.query({ name: 'cnt', text: `SELECT count(*)::int AS c, max(name) AS m FROM ${prefix}_named WHERE id >= $1`, values: [10] });
    assert.deepStrictEqual(r.rows[0], { c: 10, m: 'n19' });
  });

  await check('row_mode_array_and_multi_statement', async () => {
    const r = await client.query({ text: 'SELECT 1::integer AS a, $1::text AS b', values: ['x'], rowMode: 'array' });
    assert.deepStrictEqual(r.rows, [[1, 'x']]);
    // A simple query with two statements returns one result per statement.
    const many = await client.query("SELECT 'a' AS one; SELECT 'b' AS two");
    assert.strictEqual(many.length, 2, 'two results');
    assert.strictEqual(many[1].rows[0].two, 'b');
  });

  await check('transaction', async () => {
    await client.query(`CREATE TABLE ${prefix}_tx (id integer)`);
    await client.query('BEGIN');
    await client.query(`INSERT INTO ${prefix}_tx VALUES ($1)`, [1]);
    await client.query('COMMIT');
    const r = await client.query(`SELECT count(*)::int AS c FROM ${prefix}_tx`);
    assert.strictEqual(r.rows[0].c, 1);
  });

  await check('list_tables_information_schema', async () => {
    const r = await client.query(
      "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' AND table_name LIKE $1 ORDER BY table_name",
      [`${prefix}%`]);
    const names = r.rows.map((x) => x.table_name);
    assert.ok(names.includes(all), `tables: ${names}`);
  });

  await check('list_columns_information_schema', async () => {
    const r = await client.query(
      "SELECT column_name, data_type, ordinal_position FROM information_schema.columns WHERE table_name = $1 ORDER BY ordinal_position",
      [all]);
    const got = r.rows.map((x) => `${x.column_name}:${x.data_type}`);
    const want = ['id:integer', 'v_boolean:boolean', 'v_smallint:smallint', 'v_integer:integer', 'v_bigint:bigint',
      'v_real:real', 'v_double:double precision', 'v_numeric:numeric', 'v_text:text', 'v_varchar:character varying',
      'v_bytea:bytea', 'v_date:date', 'v_timestamp:timestamp without time zone',
      'v_timestamptz:timestamp with time zone', 'v_jsonb:jsonb'];
    assert.deepStrictEqual(got, want);
    assert.strictEqual(r.rows[0].ordinal_position, 1, 'ordinal_position starts at 1');
  });

  await check('error_code_syntax', () => expectCode(client, 'SELEC 1', undefined, '42601'));
  await check('error_code_undefined_table', () => expectCode(client, `SELECT * FROM ${prefix}_missing WHERE id = $1`, [1], '42P01'));
  await check('error_code_undefined_column', () => expectCode(client, `SELECT nope FROM ${all}`, undefined, '42703'));
  await check('error_code_bad_parameter_value', () => expectCode(client, `INSERT INTO ${all} (id, v_integer) VALUES ($1, $2)`, [99, 'not a number'], '22P02'));

  await client.end();
}

main().catch((e) => {
  console.log(`FATAL ${e.stack}`);
  process.exit(1);
});
