// The web application make.sh deploys in a real Tomcat 10 as /lui: at start
// its listener opens the database (MariaDB Connector/J) as the LUI does, and
// fails the way its context parameter `scenario` says, so that Tomcat
// itself writes what a failed deployment looks like in catalina.*.log and
// localhost.*.log.
package com.example.lui;

import jakarta.servlet.ServletContext;
import jakarta.servlet.ServletContextEvent;
import jakarta.servlet.ServletContextListener;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.SQLException;
import java.util.logging.Logger;

public class LuiStartupListener implements ServletContextListener {
    private static final Logger LOG = Logger.getLogger(LuiStartupListener.class.getName());

    @Override
    public void contextInitialized(ServletContextEvent ev) {
        ServletContext ctx = ev.getServletContext();
        String scenario = ctx.getInitParameter("scenario");
        LOG.info("Starting the user interface (" + scenario + ")");
        if (!scenario.equals("listener-nodriver")) {
            // DriverManager does not see a driver in WEB-INF/lib by itself
            // ("No suitable driver": the listener-nodriver scenario).
            try {
                Class.forName("org.mariadb.jdbc.Driver");
            } catch (ClassNotFoundException e) {
                throw new IllegalStateException(e);
            }
        }
        if (!scenario.startsWith("listener-")) {
            if (scenario.equals("clean")) {
                open(ctx);
            }
            return;
        }
        try {
            // Services opened through a few layers, as a real application does:
            // the stack trace is long, the root cause at its end.
            layer(ctx, 20);
        } catch (SQLException e) {
            throw new IllegalStateException("The user interface cannot open its database", e);
        }
    }

    private void layer(ServletContext ctx, int depth) throws SQLException {
        if (depth == 0) {
            try (Connection c = DriverManager.getConnection(ctx.getInitParameter("db.url"),
                    ctx.getInitParameter("db.user"), ctx.getInitParameter("db.password"))) {
                return;
            }
        }
        layer(ctx, depth - 1);
    }

    private void open(ServletContext ctx) {
        try (Connection c = DriverManager.getConnection(ctx.getInitParameter("db.url"),
                ctx.getInitParameter("db.user"), ctx.getInitParameter("db.password"))) {
            LOG.info("Database connection established: " + c.getMetaData().getDatabaseProductVersion());
            ctx.log("The user interface started");
        } catch (SQLException e) {
            throw new IllegalStateException(e);
        }
    }

    @Override
    public void contextDestroyed(ServletContextEvent ev) {
        LOG.info("Stopping the user interface");
    }
}
