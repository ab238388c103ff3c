import ArgumentParser
import Catalog
import CodedErrors
import CommandLineSupport
import EventStore
import Infrastructure
import JobManager
import Postgres
import Projections
import Repository
import Secrets
import SyntheticHistory
import Testing
import VSphere

@testable import PrivateCluster
@testable import TidemarkCLI

/// Every module's errors print the same way (their message, no code in front) and end
/// `tidemark` with the documented statuses: 0 done, 1 an error while running, 2 a failed
/// session, 64 a usage error.
@Suite("Command line: one ending for every error")
struct ErrorEndingTests {
    /// One error of each module, made through public API where there is one.
    static func moduleErrors() -> [any CodedError] {
        var errors: [any CodedError] = [
            CatalogError(.notFound, "no job is named 'x' (known: nightly): see 'tidemark job list'"),
            RepositoryError(.busy, "another process holds the repository lock: wait for it"),
            InfrastructureError(.snapshotFailed, "creating a snapshot of vm-1 failed", fault: "SnapshotFault"),
            SecretError(.notFound, "no credential is named 'nope'"),
            JobManagerError(.sessionBusy, "session 1234 is running in another process"),
            ProjectionError(.maintenanceRunning, "another rebuild or verification is running on this database"),
        ]
        func thrown(_ body: () throws -> Void) {
            do { try body() } catch let error as any CodedError { errors.append(error) } catch {}
        }
        thrown { _ = try StreamName("") }
        thrown { _ = try MigrationFile(name: "bad.sql", sql: "") }
        thrown { _ = try PostgresBinaries.locate(path: "", debianRoot: "/nonexistent") }
        thrown { _ = try XMLTreeParser.parse("<a") }
        thrown {
            var history = SyntheticHistory(jobs: 0)
            _ = try history.sessionAppend()
        }
        return errors
    }

    @Test("every module's error describes itself by its message alone, its code kept apart")
    func descriptionIsTheMessage() {
        let errors = Self.moduleErrors()
        #expect(errors.count == 11, "an error was not thrown: \(errors.map(\.codeName))")
        for error in errors {
            #expect(error.description == error.message, "\(type(of: error))")
            #expect(!error.codeName.isEmpty && !error.description.hasPrefix(error.codeName + ":"), "\(type(of: error))")
        }
    }

    @Test("an error met while running prints 'Error: ' and its message, and exits 1, whatever its module")
    func running() {
        for error in Self.moduleErrors() {
            #expect(ErrorEnding(error, while: .running) == ErrorEnding(text: "Error: \(error.message)", status: 1))
        }
        #expect(ErrorEnding(CommandFailure("a check failed"), while: .running) == ErrorEnding(text: "Error: a check failed", status: 1))
        #expect(ErrorEnding(ValidationError("--speed must be from 0.01"), while: .running).text == "Error: --speed must be from 0.01")
    }

    @Test("a PostgreSQL error prints its safe description, not the server's message with the value it quotes")
    func postgres() {
        let error = PostgresError(
            .server, code: .invalidTextRepresentation, message: "invalid input syntax for type uuid: \"s3cr3t\"", statement: "find")
        let ending = ErrorEnding(error, while: .running)
        #expect(ending.status == 1)
        #expect(ending.text == "Error: \(error.description)")
        #expect(!ending.text.contains("s3cr3t"))
        #expect(error.codeName == "server error")
    }

    @Test("a failing tool's last lines follow the message")
    func toolOutput() {
        let error = ClusterError(.toolFailed, "initdb failed in /srv/tidemark", toolOutput: "initdb: error: directory exists")
        #expect(ErrorEnding(error, while: .running).text == "Error: initdb failed in /srv/tidemark\ninitdb: error: directory exists")
        #expect(ClusterError(.toolFailed, "pg_ctl stop failed", toolOutput: "").message == "pg_ctl stop failed")
    }

    @Test("a command's own status ends it silently: 2 for a failed session")
    func exitCodes() {
        #expect(ErrorEnding(ExitCode(2), while: .running) == ErrorEnding(text: "", status: 2))
        #expect(ErrorEnding(ExitCode(1), while: .running) == ErrorEnding(text: "", status: 1))
    }

    @Test("a usage error prints the usage and exits 64; a misspelled command is named")
    func usage() async {
        let missing = await Tidemark.parseAndRun(["job", "show"])
        #expect(missing?.status == 64)
        #expect(
            missing?.text.contains("Error: ") == true && missing?.text.contains("Usage: tidemark job show") == true,
            "\(missing?.text ?? "")")
        let typo = await Tidemark.parseAndRun(["job", "strat", "nightly"])
        #expect(typo?.status == 64)
        #expect(typo?.text.hasPrefix("Error: unknown command 'strat', did you mean 'start'?") == true, "\(typo?.text ?? "")")
        let validation = ErrorEnding(ValidationError("--speed must be from 0.01"), while: .parsing([]))
        #expect(validation.status == 64 && validation.text.contains("Usage:"), "\(validation.text)")
    }

    @Test("help and version end with status 0")
    func help() async {
        let help = await Tidemark.parseAndRun(["--help"])
        #expect(help?.status == 0 && help?.text.contains("USAGE: tidemark") == true, "\(help?.text ?? "")")
        let version = await Tidemark.parseAndRun(["--version"])
        #expect(version?.status == 0 && version?.text.hasPrefix("tidemark ") == true, "\(version?.text ?? "")")
        let group = await Tidemark.parseAndRun(["job"])
        #expect(group?.status == 0 && group?.text.contains("USAGE: tidemark job") == true, "\(group?.text ?? "")")
    }
}
