// What a Java program that starts like the LUI writes to its log when its
// database is down, refuses its user, lacks tables or comes up late: it
// opens a JDBC connection (MariaDB Connector/J, directly or through a
// connection pool) and logs through java.util.logging, log4j 1.2 or
// log4j 2. Run by make.sh, which starts the database and keeps the logs.
//
//   java LuiDbProbe LOGGER SCENARIO URL USER PASSWORD [GO_FILE]
//
// LOGGER: jul | log4j1 | log4j2 (each writes the file named by -Dprobe.log)
// SCENARIO: clean | refused | denied | retry | tables | hikari | dbcp2 | tomcat-jdbc | c3p0

import java.io.File;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import javax.sql.DataSource;

public class LuiDbProbe {

    /** The three loggers behind one face. */
    interface Log {
        void info(String msg);
        void warn(String msg);
        void error(String msg, Throwable t);
    }

    static Log julLog(String name) {
        java.util.logging.Logger l = java.util.logging.Logger.getLogger(name);
        return new Log() {
            public void info(String m) { l.logp(java.util.logging.Level.INFO, name, caller(), m); }
            public void warn(String m) { l.logp(java.util.logging.Level.WARNING, name, caller(), m); }
            public void error(String m, Throwable t) { l.logp(java.util.logging.Level.SEVERE, name, caller(), m, t); }
        };
    }

    /** The method that called the logger, as JUL's SimpleFormatter shows it. */
    static String caller() {
        StackTraceElement[] st = new Throwable().getStackTrace();
        return st.length > 2 ? st[2].getMethodName() : "?";
    }

    static Log log4j1Log(String name) {
        org.apache.log4j.Logger l = org.apache.log4j.Logger.getLogger(name);
        return new Log() {
            public void info(String m) { l.info(m); }
            public void warn(String m) { l.warn(m); }
            public void error(String m, Throwable t) { l.error(m, t); }
        };
    }

    static Log log4j2Log(String name) {
        org.apache.logging.log4j.Logger l = org.apache.logging.log4j.LogManager.getLogger(name);
        return new Log() {
            public void info(String m) { l.info(m); }
            public void warn(String m) { l.warn(m); }
            public void error(String m, Throwable t) { l.error(m, t); }
        };
    }

    static Log log;

    public static void main(String[] a) throws Exception {
        String logger = a[0], scenario = a[1], url = a[2], user = a[3], pass = a[4];
        String name = "com.example.lui.db.DatabaseStartup";
        switch (logger) {
            case "jul": log = julLog(name); break;
            case "log4j1": log = log4j1Log(name); break;
            case "log4j2": log = log4j2Log(name); break;
            default: throw new IllegalArgumentException(logger);
        }
        log.info("Starting the database check of the user interface (" + scenario + ")");
        switch (scenario) {
            case "clean": clean(url, user, pass); break;
            case "refused": case "denied": connectOnce(url, user, pass); break;
            case "retry": retry(url, user, pass, new File(a[5])); break;
            case "tables": checkTables(url, user, pass); break;
            case "hikari": case "dbcp2": case "tomcat-jdbc": case "c3p0": pool(scenario, url, user, pass); break;
            default: throw new IllegalArgumentException(scenario);
        }
        if (logger.equals("log4j2")) {
            org.apache.logging.log4j.LogManager.shutdown();
        }
    }

    static void clean(String url, String user, String pass) throws SQLException {
        try (Connection c = DriverManager.getConnection(url, user, pass);
             Statement s = c.createStatement();
             ResultSet r = s.executeQuery("SELECT COUNT(*) FROM lui_job")) {
            r.next();
            log.info("Database connection established: " + c.getMetaData().getDatabaseProductVersion());
            log.info("System table lui_job checked: " + r.getLong(1) + " rows");
        }
        log.info("Database check done");
    }

    static void connectOnce(String url, String user, String pass) {
        try (Connection c = DriverManager.getConnection(url, user, pass)) {
            log.info("Database connection established");
        } catch (SQLException e) {
            log.error("Cannot open the database connection; the user interface does not start", e);
        }
    }

    /** One failed attempt while the database is still starting, then success. */
    static void retry(String url, String user, String pass, File go) throws Exception {
        for (int attempt = 1; attempt <= 10; attempt++) {
            try (Connection c = DriverManager.getConnection(url, user, pass)) {
                log.info("Database connection established on attempt " + attempt);
                return;
            } catch (SQLException e) {
                log.warn("Database not reachable yet (attempt " + attempt + " of 10), retrying: " + e.getMessage());
                new File(go.getPath() + ".waiting").createNewFile();
                for (int i = 0; i < 600 && !go.exists(); i++) {
                    Thread.sleep(100);
                }
            }
        }
        log.error("Database not reachable after 10 attempts", null);
    }

    /** Two tables checked from one method: two different SEVERE messages. */
    static void checkTables(String url, String user, String pass) throws SQLException {
        try (Connection c = DriverManager.getConnection(url, user, pass)) {
            for (String table : new String[] {"lui_job", "lui_recipient", "lui_mailing"}) {
                try (Statement s = c.createStatement();
                     ResultSet r = s.executeQuery("SELECT COUNT(*) FROM " + table)) {
                    r.next();
                    log.info("System table " + table + " checked: " + r.getLong(1) + " rows");
                } catch (SQLException e) {
                    log.error("System table " + table + " cannot be read", e);
                }
            }
        }
    }

    static void pool(String kind, String url, String user, String pass) {
        DataSource ds;
        try {
            switch (kind) {
                case "hikari": {
                    com.zaxxer.hikari.HikariConfig cfg = new com.zaxxer.hikari.HikariConfig();
                    cfg.setJdbcUrl(url);
                    cfg.setUsername(user);
                    cfg.setPassword(pass);
                    cfg.setConnectionTimeout(3000);
                    ds = new com.zaxxer.hikari.HikariDataSource(cfg);
                    break;
                }
                case "c3p0": {
                    // Gives up after a few quick attempts (30, a second
                    // apart, by default), and says so at WARNING.
                    com.mchange.v2.c3p0.ComboPooledDataSource c = new com.mchange.v2.c3p0.ComboPooledDataSource();
                    c.setDriverClass("org.mariadb.jdbc.Driver");
                    c.setJdbcUrl(url);
                    c.setUser(user);
                    c.setPassword(pass);
                    c.setAcquireRetryAttempts(5);
                    c.setAcquireRetryDelay(200);
                    ds = c;
                    break;
                }
                case "dbcp2": {
                    org.apache.commons.dbcp2.BasicDataSource b = new org.apache.commons.dbcp2.BasicDataSource();
                    b.setUrl(url);
                    b.setUsername(user);
                    b.setPassword(pass);
                    b.setInitialSize(2);
                    ds = b;
                    break;
                }
                default: {
                    org.apache.tomcat.jdbc.pool.PoolProperties p = new org.apache.tomcat.jdbc.pool.PoolProperties();
                    p.setUrl(url);
                    p.setDriverClassName("org.mariadb.jdbc.Driver");
                    p.setUsername(user);
                    p.setPassword(pass);
                    p.setInitialSize(2);
                    ds = new org.apache.tomcat.jdbc.pool.DataSource(p);
                }
            }
            try (Connection c = ds.getConnection()) {
                log.info("Database pool ready");
            }
        } catch (Exception e) {
            log.error("The database pool cannot give a connection; the user interface does not start", e);
        }
    }
}
