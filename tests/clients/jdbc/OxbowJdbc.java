// pgJDBC against a running Oxbow: java -cp postgresql.jar:. OxbowJdbc PORT TABLE_PREFIX
//
// Runs a fixed list of independent checks and prints one line per check:
//   CHECK <name> PASS
//   CHECK <name> FAIL <what went wrong>
// plus "INFO <key> <value>" lines (driver and server versions). tests/clients/test_jdbc.py runs
// it once and turns each CHECK line into its own pytest test, so a failing check points at one
// feature. A check that throws reports the exception with its SQLSTATE.

import java.math.BigDecimal;
import java.sql.*;
import java.time.LocalDate;
import java.time.LocalDateTime;
import java.time.OffsetDateTime;
import java.time.ZoneOffset;
import java.util.*;

public class OxbowJdbc {
    interface Check { void run() throws Exception; }

    static String url;
    static String prefix;
    static Connection conn;

    // Every supported column type, with the value written and what reading it must give.
    static final String ALL_TYPES_DDL =
        "(id integer, b boolean, i2 smallint, i4 integer, i8 bigint, f4 real, f8 double precision, "
        + "n numeric(12,3), t text, vc varchar(20), by bytea, d date, ts timestamp, tstz timestamptz, "
        + "j jsonb)";
    static final String[] COLS = {"b", "i2", "i4", "i8", "f4", "f8", "n", "t", "vc", "by", "d", "ts", "tstz", "j"};
    static final String TEXT = "héllo ✓ 'quoted'";
    static final byte[] BYTES = {0, 1, (byte) 0xfe, (byte) 0xff, '\\', '\''};
    static final BigDecimal NUM = new BigDecimal("12345.678");
    static final LocalDate DATE = LocalDate.of(2024, 2, 29);
    static final LocalDateTime TS = LocalDateTime.of(2024, 1, 2, 3, 4, 5, 123456000);
    static final OffsetDateTime TSTZ = OffsetDateTime.of(2024, 1, 2, 3, 4, 5, 500000000, ZoneOffset.ofHours(2));
    static final String JSON = "{\"a\": [1, 2], \"b\": \"x\"}";

    public static void main(String[] args) throws Exception {
        url = "jdbc:postgresql://127.0.0.1:" + args[0] + "/oxbow?user=anyone&connectTimeout=10&socketTimeout=60";
        prefix = args[1];
        String allTypes = prefix + "_all";

        check("connect", () -> {
            conn = DriverManager.getConnection(url);
            DatabaseMetaData md = conn.getMetaData();
            info("driver", md.getDriverName() + " " + md.getDriverVersion());
            info("server", md.getDatabaseProductName() + " " + md.getDatabaseProductVersion());
            expect(md.getDatabaseMajorVersion() >= 10, "server major version " + md.getDatabaseMajorVersion());
        });
        if (conn == null) return;

        check("create_table", () -> exec("CREATE TABLE " + allTypes + " " + ALL_TYPES_DDL));

        check("prepared_insert_every_type", () -> {
            try (PreparedStatement ps = conn.prepareStatement(
                    "INSERT INTO " + allTypes + " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")) {
                ps.setInt(1, 1);
                ps.setBoolean(2, true);
                ps.setShort(3, (short) 12345);
                ps.setInt(4, Integer.MAX_VALUE);
                ps.setLong(5, Long.MAX_VALUE);
                ps.setFloat(6, 1.25f);
                ps.setDouble(7, Math.PI);
                ps.setBigDecimal(8, NUM);
                ps.setString(9, TEXT);
                ps.setString(10, "varchar");
                ps.setBytes(11, BYTES);
                ps.setObject(12, DATE);
                ps.setObject(13, TS);
                ps.setObject(14, TSTZ);
                ps.setObject(15, JSON, Types.OTHER); // the portable way to bind json/jsonb
                expect(ps.executeUpdate() == 1, "update count");
            }
        });

        check("prepared_insert_nulls", () -> {
            try (PreparedStatement ps = conn.prepareStatement(
                    "INSERT INTO " + allTypes + " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")) {
                ps.setInt(1, 2);
                int[] sqlTypes = {Types.BOOLEAN, Types.SMALLINT, Types.INTEGER, Types.BIGINT, Types.REAL,
                    Types.DOUBLE, Types.NUMERIC, Types.VARCHAR, Types.VARCHAR, Types.BINARY, Types.DATE,
                    Types.TIMESTAMP, Types.TIMESTAMP_WITH_TIMEZONE, Types.OTHER};
                for (int i = 0; i < sqlTypes.length; i++) ps.setNull(i + 2, sqlTypes[i]);
                expect(ps.executeUpdate() == 1, "update count");
            }
        });

        check("prepared_insert_legacy_setters", () -> {
            // java.sql.Date / Timestamp setters, which older JDBC code uses everywhere.
            try (PreparedStatement ps = conn.prepareStatement(
                    "INSERT INTO " + allTypes + " (id, d, ts, tstz) VALUES (?, ?, ?, ?)")) {
                ps.setInt(1, 3);
                ps.setDate(2, java.sql.Date.valueOf(DATE));
                ps.setTimestamp(3, Timestamp.valueOf(TS));
                ps.setTimestamp(4, Timestamp.from(TSTZ.toInstant()));
                expect(ps.executeUpdate() == 1, "update count");
            }
            try (PreparedStatement ps = conn.prepareStatement("SELECT d, ts, tstz FROM " + allTypes + " WHERE id = 3")) {
                ResultSet rs = ps.executeQuery();
                expect(rs.next(), "row 3 is there");
                expectEq(DATE, rs.getObject(1, LocalDate.class), "date");
                expectEq(TS, rs.getObject(2, LocalDateTime.class), "timestamp");
                expectEq(TSTZ.toInstant(), rs.getObject(3, OffsetDateTime.class).toInstant(), "timestamptz");
            }
        });

        // Read every type back: the value, getObject's Java class, and the column type name.
        Map<String, Object> row = new HashMap<>();
        Map<String, String> typeNames = new HashMap<>();
        Map<String, Integer> sqlTypes = new HashMap<>();
        check("select_every_type", () -> {
            try (PreparedStatement ps = conn.prepareStatement(
                    "SELECT " + String.join(", ", COLS) + " FROM " + allTypes + " WHERE id = ?")) {
                ps.setInt(1, 1);
                ResultSet rs = ps.executeQuery();
                expect(rs.next(), "row 1 is there");
                ResultSetMetaData md = rs.getMetaData();
                for (int i = 0; i < COLS.length; i++) {
                    row.put(COLS[i], rs.getObject(i + 1));
                    typeNames.put(COLS[i], md.getColumnTypeName(i + 1));
                    sqlTypes.put(COLS[i], md.getColumnType(i + 1));
                }
                row.put("tstz_odt", rs.getObject("tstz", OffsetDateTime.class));
                row.put("ts_ldt", rs.getObject("ts", LocalDateTime.class));
                row.put("d_ld", rs.getObject("d", LocalDate.class));
                row.put("i2_short", rs.getShort("i2"));
                row.put("f4_float", rs.getFloat("f4"));
                row.put("n_scale", rs.getBigDecimal("n").scale());
                row.put("n_precision", md.getPrecision(7));
                row.put("n_md_scale", md.getScale(7));
                expect(!rs.next(), "exactly one row");
            }
            try (PreparedStatement ps = conn.prepareStatement(
                    "SELECT " + String.join(", ", COLS) + " FROM " + allTypes + " WHERE id = 2")) {
                ResultSet rs = ps.executeQuery();
                expect(rs.next(), "row 2 is there");
                for (int i = 0; i < COLS.length; i++) {
                    expect(rs.getObject(i + 1) == null, "NULL " + COLS[i] + " read back as " + rs.getObject(i + 1));
                }
            }
        });
        readCheck("read_boolean", row, typeNames, sqlTypes, "b", Boolean.TRUE, Boolean.class, "bool", Types.BIT);
        readCheck("read_smallint", row, typeNames, sqlTypes, "i2", 12345, Integer.class, "int2", Types.SMALLINT);
        readCheck("read_integer", row, typeNames, sqlTypes, "i4", Integer.MAX_VALUE, Integer.class, "int4", Types.INTEGER);
        readCheck("read_bigint", row, typeNames, sqlTypes, "i8", Long.MAX_VALUE, Long.class, "int8", Types.BIGINT);
        readCheck("read_real", row, typeNames, sqlTypes, "f4", 1.25f, Float.class, "float4", Types.REAL);
        readCheck("read_double", row, typeNames, sqlTypes, "f8", Math.PI, Double.class, "float8", Types.DOUBLE);
        check("read_numeric", () -> {
            expectRead(row, typeNames, sqlTypes, "n", NUM, BigDecimal.class, "numeric", Types.NUMERIC);
            expectEq(3, row.get("n_scale"), "getBigDecimal scale");
        });
        check("read_numeric_precision_scale", () -> {
            // pgJDBC reads these from the type modifier of the RowDescription field.
            expectEq(12, row.get("n_precision"), "ResultSetMetaData.getPrecision");
            expectEq(3, row.get("n_md_scale"), "ResultSetMetaData.getScale");
        });
        readCheck("read_text", row, typeNames, sqlTypes, "t", TEXT, String.class, "text", Types.VARCHAR);
        readCheck("read_varchar", row, typeNames, sqlTypes, "vc", "varchar", String.class, "varchar", Types.VARCHAR);
        check("read_bytea", () -> {
            Object v = row.get("by");
            expect(v instanceof byte[], "getObject class " + cls(v));
            expect(Arrays.equals(BYTES, (byte[]) v), "value " + Arrays.toString((byte[]) v));
            expectEq("bytea", typeNames.get("by"), "column type name");
            expectEq(Types.BINARY, sqlTypes.get("by"), "java.sql.Types");
        });
        check("read_date", () -> {
            expectRead(row, typeNames, sqlTypes, "d", java.sql.Date.valueOf(DATE), java.sql.Date.class, "date", Types.DATE);
            expectEq(DATE, row.get("d_ld"), "getObject(LocalDate.class)");
        });
        check("read_timestamp", () -> {
            expectRead(row, typeNames, sqlTypes, "ts", Timestamp.valueOf(TS), Timestamp.class, "timestamp", Types.TIMESTAMP);
            expectEq(TS, row.get("ts_ldt"), "getObject(LocalDateTime.class)");
        });
        check("read_timestamptz", () -> {
            Object v = row.get("tstz");
            expect(v instanceof Timestamp, "getObject class " + cls(v));
            expectEq(TSTZ.toInstant(), ((Timestamp) v).toInstant(), "instant");
            expectEq("timestamptz", typeNames.get("tstz"), "column type name");
            expectEq(TSTZ.toInstant(), ((OffsetDateTime) row.get("tstz_odt")).toInstant(), "getObject(OffsetDateTime.class)");
        });
        check("read_jsonb", () -> {
            Object v = row.get("j");
            // PostgreSQL: a PGobject of type "jsonb" whose value is the normalized text.
            expectEq("jsonb", typeNames.get("j"), "column type name");
            expect(v != null && v.getClass().getName().equals("org.postgresql.util.PGobject"), "getObject class " + cls(v));
            expectEq(JSON, v.toString(), "value");
        });

        check("batch_insert", () -> {
            exec("CREATE TABLE " + prefix + "_batch (id bigint, name text, score double precision)");
            try (PreparedStatement ps = conn.prepareStatement("INSERT INTO " + prefix + "_batch VALUES (?, ?, ?)")) {
                for (int i = 0; i < 200; i++) {
                    ps.setLong(1, i);
                    ps.setString(2, "n" + i);
                    ps.setDouble(3, i / 4.0);
                    ps.addBatch();
                }
                int[] counts = ps.executeBatch();
                expectEq(200, counts.length, "batch result count");
                for (int c : counts) expect(c == 1, "update counts " + Arrays.toString(counts));
            }
            try (Statement st = conn.createStatement();
                 ResultSet rs = st.executeQuery("SELECT count(*), sum(id), max(name) FROM " + prefix + "_batch")) {
                expect(rs.next(), "a row");
                expectEq(200L, rs.getLong(1), "count");
                expectEq(19900L, rs.getLong(2), "sum");
                expectEq("n99", rs.getString(3), "max");
            }
        });

        check("batch_insert_rewritten", () -> {
            // reWriteBatchedInserts=true turns the batch into multi-row INSERTs (a common setting).
            exec("CREATE TABLE " + prefix + "_batch2 (id bigint, name text)");
            try (Connection c2 = DriverManager.getConnection(url + "&reWriteBatchedInserts=true");
                 PreparedStatement ps = c2.prepareStatement("INSERT INTO " + prefix + "_batch2 VALUES (?, ?)")) {
                for (int i = 0; i < 500; i++) {
                    ps.setLong(1, i);
                    ps.setString(2, "r" + i);
                    ps.addBatch();
                }
                ps.executeBatch();
            }
            try (Statement st = conn.createStatement();
                 ResultSet rs = st.executeQuery("SELECT count(*) FROM " + prefix + "_batch2")) {
                rs.next();
                expectEq(500L, rs.getLong(1), "count");
            }
        });

        check("fetch_size_cursor", () -> {
            // With autocommit off and a fetch size, pgJDBC runs the query through a portal and
            // fetches it 30 rows at a time (Execute with a row limit, PortalSuspended).
            conn.setAutoCommit(false);
            try (PreparedStatement ps = conn.prepareStatement(
                    "SELECT id FROM " + prefix + "_batch WHERE id >= ? ORDER BY id")) {
                ps.setFetchSize(30);
                ps.setLong(1, 0);
                ResultSet rs = ps.executeQuery();
                long n = 0, sum = 0;
                while (rs.next()) {
                    expectEq(n, rs.getLong(1), "row order");
                    n++;
                    sum += rs.getLong(1);
                }
                expectEq(200L, n, "rows fetched");
                expectEq(19900L, sum, "sum");
            } finally {
                conn.commit();
                conn.setAutoCommit(true);
            }
        });

        check("transaction_commit", () -> {
            exec("CREATE TABLE " + prefix + "_tx (id integer)");
            conn.setAutoCommit(false);
            try (PreparedStatement ps = conn.prepareStatement("INSERT INTO " + prefix + "_tx VALUES (?)")) {
                ps.setInt(1, 7);
                ps.executeUpdate();
                conn.commit();
            } finally {
                conn.setAutoCommit(true);
            }
            expectEq("1", scalar("SELECT count(*) FROM " + prefix + "_tx"), "rows after commit");
        });

        check("metadata_get_tables", () -> {
            DatabaseMetaData md = conn.getMetaData();
            List<String> found = new ArrayList<>();
            try (ResultSet rs = md.getTables(null, "public", prefix + "%", new String[]{"TABLE"})) {
                while (rs.next()) {
                    found.add(rs.getString("TABLE_SCHEM") + "." + rs.getString("TABLE_NAME") + ":" + rs.getString("TABLE_TYPE"));
                }
            }
            expect(found.contains("public." + allTypes + ":TABLE"), "getTables gave " + found);
            expect(found.contains("public." + prefix + "_batch:TABLE"), "getTables gave " + found);
        });

        check("metadata_get_schemas", () -> {
            List<String> schemas = new ArrayList<>();
            try (ResultSet rs = conn.getMetaData().getSchemas()) {
                while (rs.next()) schemas.add(rs.getString("TABLE_SCHEM"));
            }
            expect(schemas.contains("public"), "getSchemas gave " + schemas);
        });

        Map<String, String[]> columns = new LinkedHashMap<>();
        check("metadata_get_columns", () -> {
            try (ResultSet rs = conn.getMetaData().getColumns(null, "public", allTypes, "%")) {
                while (rs.next()) {
                    columns.put(rs.getString("COLUMN_NAME"), new String[]{
                        rs.getString("TYPE_NAME"), String.valueOf(rs.getInt("DATA_TYPE")),
                        String.valueOf(rs.getInt("COLUMN_SIZE")), String.valueOf(rs.getInt("DECIMAL_DIGITS")),
                        String.valueOf(rs.getInt("ORDINAL_POSITION")), String.valueOf(rs.getInt("NULLABLE"))});
                }
            }
            List<String> names = new ArrayList<>(List.of("id"));
            names.addAll(Arrays.asList(COLS));
            expectEq(names, new ArrayList<>(columns.keySet()), "column names in order");
            String[][] want = {
                {"id", "int4", "" + Types.INTEGER}, {"b", "bool", "" + Types.BIT}, {"i2", "int2", "" + Types.SMALLINT},
                {"i4", "int4", "" + Types.INTEGER}, {"i8", "int8", "" + Types.BIGINT}, {"f4", "float4", "" + Types.REAL},
                {"f8", "float8", "" + Types.DOUBLE}, {"n", "numeric", "" + Types.NUMERIC}, {"t", "text", "" + Types.VARCHAR},
                {"by", "bytea", "" + Types.BINARY}, {"d", "date", "" + Types.DATE},
                {"ts", "timestamp", "" + Types.TIMESTAMP}, {"tstz", "timestamptz", "" + Types.TIMESTAMP}};
            for (String[] w : want) {
                String[] got = columns.get(w[0]);
                expectEq(w[1] + ":" + w[2], got[0] + ":" + got[1], "TYPE_NAME:DATA_TYPE of " + w[0]);
            }
            int pos = 1;
            for (String[] got : columns.values()) expectEq(String.valueOf(pos++), got[4], "ORDINAL_POSITION");
        });
        check("metadata_get_columns_varchar", () -> {
            String[] got = columns.get("vc");
            expectEq("varchar:" + Types.VARCHAR + ":20", got[0] + ":" + got[1] + ":" + got[2], "TYPE_NAME:DATA_TYPE:COLUMN_SIZE of varchar(20)");
        });
        check("metadata_get_columns_jsonb", () -> {
            String[] got = columns.get("j");
            expectEq("jsonb:" + Types.OTHER, got[0] + ":" + got[1], "TYPE_NAME:DATA_TYPE of jsonb");
        });
        check("metadata_get_columns_numeric_precision_scale", () -> {
            String[] got = columns.get("n");
            expectEq("12,3", got[2] + "," + got[3], "COLUMN_SIZE,DECIMAL_DIGITS of numeric(12,3)");
        });
        check("metadata_get_columns_not_null", () -> {
            exec("CREATE TABLE " + prefix + "_nn (id bigint NOT NULL, v text)");
            List<String> got = new ArrayList<>();
            try (ResultSet rs = conn.getMetaData().getColumns(null, "public", prefix + "_nn", "%")) {
                while (rs.next()) got.add(rs.getString("COLUMN_NAME") + ":" + rs.getInt("NULLABLE"));
            }
            expectEq(List.of("id:" + DatabaseMetaData.columnNoNulls, "v:" + DatabaseMetaData.columnNullable), got, "NULLABLE");
        });

        check("metadata_get_primary_keys", () -> {
            exec("CREATE TABLE " + prefix + "_pk (id bigint PRIMARY KEY, name text)");
            List<String> pk = new ArrayList<>();
            try (ResultSet rs = conn.getMetaData().getPrimaryKeys(null, "public", prefix + "_pk")) {
                while (rs.next()) pk.add(rs.getString("COLUMN_NAME"));
            }
            expectEq(List.of("id"), pk, "getPrimaryKeys");
        });

        check("error_sqlstate_syntax", () -> expectSqlState("SELEC 1", "42601"));
        check("error_sqlstate_undefined_table", () -> expectSqlState("SELECT * FROM " + prefix + "_missing", "42P01"));
        check("error_sqlstate_undefined_column", () -> expectSqlState("SELECT nope FROM " + allTypes, "42703"));
        check("error_sqlstate_prepared", () -> {
            try (PreparedStatement ps = conn.prepareStatement("SELECT * FROM " + prefix + "_missing WHERE id = ?")) {
                ps.setInt(1, 1);
                ps.executeQuery();
                throw new AssertionError("no error");
            } catch (SQLException e) {
                expectEq("42P01", e.getSQLState(), "SQLSTATE (" + e.getMessage() + ")");
            }
            expectEq("2", scalar("SELECT 1 + 1"), "connection usable after the error");
        });

        conn.close();
    }

    // --- helpers ---

    static void check(String name, Check c) {
        long t0 = System.nanoTime();
        try {
            c.run();
            System.out.println("CHECK " + name + " PASS " + (System.nanoTime() - t0) / 1_000_000 + "ms");
        } catch (SQLException e) {
            System.out.println("CHECK " + name + " FAIL SQLException [" + e.getSQLState() + "] "
                + oneLine(e.getMessage()));
        } catch (Throwable e) {
            System.out.println("CHECK " + name + " FAIL " + e.getClass().getSimpleName() + ": " + oneLine(String.valueOf(e.getMessage())));
        }
        System.out.flush();
    }

    static void readCheck(String name, Map<String, Object> row, Map<String, String> typeNames,
                          Map<String, Integer> sqlTypes, String col, Object value, Class<?> cls,
                          String typeName, int sqlType) {
        check(name, () -> expectRead(row, typeNames, sqlTypes, col, value, cls, typeName, sqlType));
    }

    static void expectRead(Map<String, Object> row, Map<String, String> typeNames, Map<String, Integer> sqlTypes,
                           String col, Object value, Class<?> cls, String typeName, int sqlType) {
        expect(!row.isEmpty(), "select_every_type failed");
        Object v = row.get(col);
        expect(cls.isInstance(v), "getObject class " + cls(v) + ", expected " + cls.getSimpleName());
        expectEq(value, v, "value");
        expectEq(typeName, typeNames.get(col), "column type name");
        expectEq(sqlType, sqlTypes.get(col), "java.sql.Types");
    }

    static void expectSqlState(String sql, String state) throws SQLException {
        try (Statement st = conn.createStatement()) {
            st.executeQuery(sql);
            throw new AssertionError("no error for " + sql);
        } catch (SQLException e) {
            expectEq(state, e.getSQLState(), "SQLSTATE (" + e.getMessage() + ")");
        }
        expectEq("2", scalar("SELECT 1 + 1"), "connection usable after the error");
    }

    static void exec(String sql) throws SQLException {
        try (Statement st = conn.createStatement()) {
            st.execute(sql);
        }
    }

    static String scalar(String sql) throws SQLException {
        try (Statement st = conn.createStatement(); ResultSet rs = st.executeQuery(sql)) {
            rs.next();
            return rs.getString(1);
        }
    }

    static void info(String key, String value) {
        System.out.println("INFO " + key + " " + value);
    }

    static String cls(Object v) {
        return v == null ? "null" : v.getClass().getName();
    }

    static String oneLine(String s) {
        return s.replace('\n', ' ').replace('\r', ' ');
    }

    static void expect(boolean ok, String what) {
        if (!ok) throw new AssertionError(what);
    }

    static void expectEq(Object want, Object got, String what) {
        if (!Objects.equals(want, got)) {
            throw new AssertionError(what + ": expected <" + want + "> got <" + got + ">"
                + (got == null ? "" : " (" + got.getClass().getSimpleName() + ")"));
        }
    }
}
