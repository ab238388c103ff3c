import Catalog
import JobManager
import VSphere

/// The platforms this build of Tidemark reaches, for the composition roots (the command
/// line and the server) to hand to their Job Managers: the lab and vSphere. The Job Manager
/// module itself imports no platform but the built-in lab.
public enum PlatformAdapters {
    public static var standard: AdapterFactory {
        var factory = AdapterFactory.lab
        factory.register(.vcenter) { request in
            let (endpoint, password) = try request.server.resolvedEndpoint(
                for: request.use, secrets: request.secrets, handedOver: request.handedOver)
            return OpenedAdapter(
                adapter: VSphereAdapter(endpoint: endpoint, logger: request.logger), secrets: [password],
                handover: HandedOverCredentials(user: endpoint.user, secret: password))
        }
        return factory
    }
}
