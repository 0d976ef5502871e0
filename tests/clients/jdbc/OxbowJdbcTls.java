// pgJDBC logging in to an Oxbow started with --require-tls and a password (test_security.py).
// Prints `CHECK <name> PASS|FAIL <detail>` lines. Arguments: port, password.
import java.sql.*;

public class OxbowJdbcTls {
    interface Check { void run() throws Exception; }

    static void check(String name, Check c) {
        try {
            c.run();
            System.out.println("CHECK " + name + " PASS");
        } catch (Throwable t) {
            System.out.println("CHECK " + name + " FAIL " + t.toString().replace('\n', ' '));
        }
    }

    static String sqlState(String url, String user, String password) {
        try (Connection c = DriverManager.getConnection(url, user, password)) {
            return "connected";
        } catch (SQLException e) {
            return e.getSQLState();
        }
    }

    public static void main(String[] args) {
        String base = "jdbc:postgresql://localhost:" + args[0] + "/oxbow";
        String password = args[1];
        check("scram_over_tls", () -> {
            try (Connection c = DriverManager.getConnection(base + "?sslmode=require", "oxbow", password);
                 Statement s = c.createStatement();
                 ResultSet rs = s.executeQuery("SELECT 41 + 1")) {
                rs.next();
                if (rs.getInt(1) != 42) throw new AssertionError("got " + rs.getInt(1));
            }
        });
        check("wrong_password_28p01", () -> {
            String state = sqlState(base + "?sslmode=require", "oxbow", "not-it");
            if (!"28P01".equals(state)) throw new AssertionError("SQLSTATE " + state);
        });
        check("unknown_user_28p01", () -> {
            String state = sqlState(base + "?sslmode=require", "nobody", "not-it");
            if (!"28P01".equals(state)) throw new AssertionError("SQLSTATE " + state);
        });
        check("plaintext_28000", () -> {
            String state = sqlState(base + "?sslmode=disable", "oxbow", password);
            if (!"28000".equals(state)) throw new AssertionError("SQLSTATE " + state);
        });
    }
}
