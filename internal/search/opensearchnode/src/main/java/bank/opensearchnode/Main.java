package bank.opensearchnode;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

import org.opensearch.analysis.common.CommonAnalysisPlugin;
import org.opensearch.common.settings.Settings;
import org.opensearch.env.Environment;
import org.opensearch.node.InternalSettingsPreparer;
import org.opensearch.node.Node;
import org.opensearch.transport.Netty4Plugin;

/**
 * A single-node OpenSearch server in this process, HTTP on loopback, for the
 * tests of internal/search. Arguments: the node's home directory (data, logs
 * and snapshot repositories go under it) and the HTTP port. It prints
 * "started" once the node answers, and stops when its standard input closes,
 * so that a test that dies takes the node with it.
 */
public final class Main {
    /** TestNode is a Node with the plugins the Maven jars bring. */
    static final class TestNode extends Node {
        TestNode(Environment env) {
            super(env, List.of(Netty4Plugin.class, CommonAnalysisPlugin.class), true);
        }
    }

    public static void main(String[] args) throws Exception {
        if (args.length != 2) {
            System.err.println("usage: opensearchnode HOME PORT");
            System.exit(2);
        }
        Path home = Path.of(args[0]).toAbsolutePath();
        Files.createDirectories(home.resolve("config"));
        Files.createDirectories(home.resolve("repo"));
        Settings settings = Settings.builder()
                .put("cluster.name", "bank-test")
                .put("node.name", "bank-test")
                .put("discovery.type", "single-node")
                .put("path.home", home.toString())
                .put("path.data", home.resolve("data").toString())
                .put("path.logs", home.resolve("logs").toString())
                .put("path.repo", home.resolve("repo").toString())
                .put("network.host", "127.0.0.1")
                .put("http.port", args[1])
                .put("transport.port", "0")
                // A test machine's disk may be fuller than the defaults allow.
                .put("cluster.routing.allocation.disk.threshold_enabled", false)
                .put("http.type", "netty4")
                .put("transport.type", "netty4")
                .build();
        Environment env = InternalSettingsPreparer.prepareEnvironment(settings, Map.of(), home.resolve("config"), () -> "bank-test");
        Node node = new TestNode(env);
        node.start();
        System.out.println("started");
        System.out.flush();
        while (System.in.read() != -1) {
            // Wait for the parent to close standard input.
        }
        node.close();
        System.exit(0);
    }
}
