// swift-tools-version:6.0
import Foundation
import PackageDescription

/// Every numbered SQL file in Migrations/ becomes a resource of the TidemarkMigrations target.
let migrationFiles: [Resource] =
    (try? FileManager.default.contentsOfDirectory(
        atPath: Context.packageDirectory + "/Migrations"))?
    .filter { $0.hasSuffix(".sql") }
    .sorted()
    .map { Resource.copy($0) } ?? []

let package = Package(
    name: "Tidemark",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "tidemark", targets: ["TidemarkCLI"])
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.6.0"),
        .package(url: "https://github.com/apple/swift-crypto", from: "3.12.0"),
        .package(url: "https://github.com/jpsim/Yams", from: "6.0.0"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.6.0"),
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.0"),
        .package(url: "https://github.com/apple/swift-certificates", from: "1.21.0"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.0"),
        .package(url: "https://github.com/apple/swift-nio-ssl", from: "2.37.0"),
        .package(url: "https://github.com/apple/swift-metrics", from: "2.5.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.0.0"),
        .package(url: "https://github.com/hummingbird-project/hummingbird-auth", from: "2.5.0"),
    ],
    targets: [
        .systemLibrary(
            name: "CLibPQ",
            pkgConfig: "libpq",
            providers: [.apt(["libpq-dev"])]
        ),
        .systemLibrary(
            name: "CZstd",
            pkgConfig: "libzstd",
            providers: [.apt(["libzstd-dev"])]
        ),
        .target(
            name: "CCurl",
            linkerSettings: [.linkedLibrary("curl"), .linkedLibrary("ssl"), .linkedLibrary("crypto")]
        ),
        .target(name: "CFileSystem"),
        // libext2fs (Debian libext2fs-dev) behind a narrow read-only API whose I/O manager
        // reads through a callback: guest files straight from a restore point's chunks.
        .target(
            name: "CExt2fs",
            linkerSettings: [.linkedLibrary("ext2fs"), .linkedLibrary("com_err")]
        ),
        .target(name: "Ext4", dependencies: ["CExt2fs", "CodedErrors"]),
        .target(name: "BlockingIO"),
        .target(name: "NBD", dependencies: [.product(name: "Logging", package: "swift-log")]),
        .target(name: "NetworkHosts"),
        .target(name: "CodedErrors"),
        .target(
            name: "Secrets",
            dependencies: ["CodedErrors", .product(name: "Crypto", package: "swift-crypto")]
        ),
        .target(
            name: "VSphere",
            dependencies: ["CCurl", "CodedErrors", "Infrastructure", .product(name: "Logging", package: "swift-log")]
        ),
        .target(
            name: "Repository",
            dependencies: [
                "CodedErrors", "CZstd", "CFileSystem", "BlockingIO",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .target(
            name: "ServerTLS",
            dependencies: [
                "CodedErrors",
                .product(name: "X509", package: "swift-certificates"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "Crypto", package: "swift-crypto"),
            ]
        ),
        .target(
            name: "RepositoryService",
            dependencies: [
                "CodedErrors", "Repository", "ServerTLS", "BlockingIO",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdTLS", package: "hummingbird"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .target(
            name: "RemoteRepository",
            dependencies: ["BlockingIO", "CCurl", "CodedErrors", "Repository", "RepositoryService"]
        ),
        .target(
            name: "Infrastructure",
            dependencies: ["CodedErrors", "Repository", "BlockingIO", "CFileSystem"]
        ),
        .target(
            name: "DataMover",
            dependencies: ["Repository", "Infrastructure", "BlockingIO"]
        ),
        .target(
            name: "Postgres",
            dependencies: [
                "CLibPQ",
                "CodedErrors",
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .target(
            name: "TidemarkMigrations",
            path: "Migrations",
            sources: ["BundledMigrations.swift"],
            resources: migrationFiles
        ),
        .target(
            name: "EventStore",
            dependencies: [
                "CodedErrors",
                "Postgres",
                "TidemarkMigrations",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
            ]
        ),
        .target(
            name: "Catalog",
            dependencies: ["CodedErrors", .product(name: "Yams", package: "Yams")]
        ),
        .target(
            name: "WorkflowEvents",
            dependencies: ["EventStore"]
        ),
        .target(
            name: "Replay",
            dependencies: ["Catalog", "EventStore", "WorkflowEvents"]
        ),
        .target(
            name: "CatalogStore",
            dependencies: ["Catalog", "EventStore", "Postgres", .product(name: "Logging", package: "swift-log")]
        ),
        .target(
            name: "Projections",
            dependencies: [
                "Catalog", "CodedErrors", "EventStore", "Postgres", "WorkflowEvents", .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .target(
            name: "SyntheticHistory",
            dependencies: ["Catalog", "CodedErrors", "EventStore", "Infrastructure", "WorkflowEvents"]
        ),
        .target(
            name: "JobManager",
            dependencies: [
                "Catalog", "CatalogStore", "CodedErrors", "EventStore", "Postgres", "Infrastructure", "Repository", "DataMover",
                "RemoteRepository", "Secrets", "WorkflowEvents", "BlockingIO", "NBD", "Ext4",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .target(
            name: "ProxyAgent",
            dependencies: [
                "Catalog", "CatalogStore", "EventStore", "Postgres", "JobManager", "DataMover", "Repository", "Infrastructure", "Secrets",
                "WorkflowEvents", "BlockingIO",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .target(
            name: "PlatformAdapters",
            dependencies: ["Catalog", "JobManager", "VSphere"]
        ),
        .target(
            name: "Server",
            dependencies: [
                "Catalog", "CatalogStore", "EventStore", "Postgres", "JobManager", "Projections", "WorkflowEvents",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        // Users, roles and API tokens as events (pure decisions, the store, the token check).
        .target(
            name: "Identity",
            dependencies: [
                "Catalog", "CodedErrors", "EventStore", "Postgres",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "HummingbirdBcrypt", package: "hummingbird-auth"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // Notifications of finished sessions by e-mail (SMTP through libcurl) and signed webhooks.
        .target(
            name: "Notifications",
            dependencies: [
                "Catalog", "CCurl", "CodedErrors", "EventStore", "JobManager", "Postgres",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        // The HTTPS API of `tidemark server` (Hummingbird 2), its OpenAPI contract and TLS identity.
        .target(
            name: "API",
            dependencies: [
                "BlockingIO", "Catalog", "CatalogStore", "CodedErrors", "EventStore", "Identity", "JobManager", "Postgres",
                "RemoteRepository", "Replay", "Secrets", "ServerTLS", "WorkflowEvents",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdTLS", package: "hummingbird"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "X509", package: "swift-certificates"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Yams", package: "Yams"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
            ],
            resources: [.copy("Resources/openapi.yaml"), .copy("Resources/console")]
        ),
        .target(
            name: "PrivateCluster",
            dependencies: [
                "CodedErrors",
                "CFileSystem",
                "Postgres",
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // What the `tidemark` executable and the benches share: global options, the catalog
        // database's location, errors and tables (an executable target cannot be imported).
        .target(
            name: "CommandLineSupport",
            dependencies: [
                "EventStore",
                "Postgres",
                "PrivateCluster",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // Every `tidemark bench` command and its helpers, out of the executable's own module:
        // `tidemark bench` only registers this module's command group.
        .target(
            name: "Benchmarks",
            dependencies: [
                "RepositoryService", "RemoteRepository", "ServerTLS",
                "API",
                "CCurl",
                "Identity",
                "Catalog",
                "CatalogStore",
                "CommandLineSupport",
                "DataMover",
                "EventStore",
                "Infrastructure",
                "JobManager",
                "NetworkHosts",
                "PlatformAdapters",
                "Postgres",
                "PrivateCluster",
                "Projections",
                "Repository",
                "Secrets",
                "BlockingIO",
                "Ext4",
                "SyntheticHistory",
                "VSphere",
                "WorkflowEvents",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .executableTarget(
            name: "TidemarkCLI",
            dependencies: [
                "RepositoryService", "RemoteRepository", "ServerTLS",
                "API",
                "Replay",
                "Benchmarks",
                "BlockingIO",
                "Identity",
                "Notifications",
                "CodedErrors",
                "CommandLineSupport",
                "PlatformAdapters",
                "Postgres",
                "ProxyAgent",
                "EventStore",
                "PrivateCluster",
                "Repository",
                "DataMover",
                "Infrastructure",
                "VSphere",
                "Catalog",
                "CatalogStore",
                "Projections",
                "JobManager",
                "Server",
                "Secrets",
                "WorkflowEvents",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .testTarget(
            name: "CatalogTests",
            dependencies: ["Catalog"]
        ),
        .testTarget(
            name: "ProjectionTests",
            dependencies: [
                "Catalog", "CatalogStore", "EventStore", "Postgres", "Projections", "SyntheticHistory", "TestSupport", "WorkflowEvents",
            ]
        ),
        .testTarget(
            name: "JobManagerTests",
            dependencies: [
                "JobManager", "Catalog", "CatalogStore", "EventStore", "Infrastructure", "Repository", "Postgres", "TestSupport",
                "Projections", "Server", "WorkflowEvents", "Secrets", "NetworkHosts",
                .product(name: "Crypto", package: "swift-crypto"),
            ]
        ),
        .testTarget(
            name: "ServerTests",
            dependencies: [
                "Server", "JobManager", "Catalog", "CatalogStore", "EventStore", "Postgres", "Projections", "TestSupport", "WorkflowEvents",
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .testTarget(
            name: "IdentityTests",
            dependencies: ["Identity"]
        ),
        .testTarget(
            name: "Ext4Tests",
            dependencies: ["Ext4", "TestSupport"]
        ),
        .testTarget(
            name: "PostgresTests",
            dependencies: ["Postgres", "TestSupport"]
        ),
        .testTarget(
            name: "EventStoreTests",
            dependencies: ["EventStore", "Postgres", "PrivateCluster", "TestSupport", .product(name: "Crypto", package: "swift-crypto")]
        ),
        .testTarget(
            name: "RepositoryServiceTests",
            dependencies: [
                "RepositoryService", "RemoteRepository", "Repository", "ServerTLS", "NetworkHosts", "TestSupport",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .testTarget(
            name: "RepositoryTests",
            dependencies: ["Repository", "DataMover", "Infrastructure"]
        ),
        .testTarget(
            name: "InfrastructureTests",
            dependencies: ["Infrastructure", "DataMover", "Repository", "TestSupport"]
        ),
        .testTarget(
            name: "VSphereTests",
            dependencies: [
                "VSphere", "Infrastructure", "JobManager", "Catalog", "CatalogStore", "EventStore", "Repository", "Postgres",
                "PrivateCluster",
                "TestSupport",
                .product(name: "Crypto", package: "swift-crypto"),
            ]
        ),
        .testTarget(
            name: "TidemarkCLITests",
            dependencies: [
                "TidemarkCLI", "CodedErrors", "CommandLineSupport", "Catalog", "EventStore", "Infrastructure", "JobManager", "Postgres",
                "PrivateCluster",
                "Projections", "Repository", "Secrets", "SyntheticHistory", "VSphere",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        .testTarget(
            name: "PrivateClusterTests",
            dependencies: ["PrivateCluster", "EventStore", "Postgres", "TestSupport"]
        ),
        .target(
            name: "TestSupport",
            dependencies: ["Postgres", "EventStore", "NetworkHosts"],
            path: "Tests/TestSupport"
        ),
    ],
    swiftLanguageModes: [.v6]
)
