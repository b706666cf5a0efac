// LoopbackDynamoDBLocal runs DynamoDB Local listening on one address only.
//
// DynamoDB Local has no option for the address it binds: it builds an
// embedded Jetty Server(port), which listens on every interface. This
// launcher takes the same arguments as DynamoDBLocal.jar, lets DynamoDB Local
// build its server as usual, sets the host of its Jetty connectors to the
// system property elevate.dynamodb.host (default 127.0.0.1) before the server
// starts, then starts it. pkg/emulator compiles it once into the user's
// cache with the JVM's own compiler module and runs it with the jar on the
// class path.
import java.lang.reflect.Field;

import com.amazonaws.services.dynamodbv2.local.main.ServerRunner;
import com.amazonaws.services.dynamodbv2.local.server.DynamoDBProxyServer;
import org.eclipse.jetty.server.Connector;
import org.eclipse.jetty.server.Server;
import org.eclipse.jetty.server.ServerConnector;

public class LoopbackDynamoDBLocal {
    public static void main(String[] args) throws Exception {
        String host = System.getProperty("elevate.dynamodb.host", "127.0.0.1");
        DynamoDBProxyServer proxy = ServerRunner.createServerFromCommandLineArgs(args);
        // The Jetty server is a private field of DynamoDBProxyServer (1.25.x).
        Field field = DynamoDBProxyServer.class.getDeclaredField("server");
        field.setAccessible(true);
        Server server = (Server) field.get(proxy);
        Connector[] connectors = server.getConnectors();
        if (connectors.length == 0) {
            throw new IllegalStateException("DynamoDB Local built a server without connectors");
        }
        for (Connector c : connectors) {
            ((ServerConnector) c).setHost(host);
        }
        proxy.start();
    }
}
