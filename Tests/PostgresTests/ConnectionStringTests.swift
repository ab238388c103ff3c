import Postgres
import Testing

@Suite("Connection strings for other programs")
struct ConnectionStringTests {
    @Test("overrides follow a key/value string quoted, or a URL as query parameters")
    func keywordConnectionString() {
        let keyValue = PostgresConnectionSettings("host=/run/pg dbname=postgres").with("dbname", "tidemark").with("user", "o'brien")
        #expect(keyValue.keywordConnectionString == #"host=/run/pg dbname=postgres dbname='tidemark' user='o\'brien'"#)
        let url = PostgresConnectionSettings("postgresql://db.example.com/postgres").with("user", "a&b")
        #expect(url.keywordConnectionString == "postgresql://db.example.com/postgres?user=a%26b")
        #expect(
            PostgresConnectionSettings("postgresql://h/d?sslmode=require").with("user", "x").keywordConnectionString
                == "postgresql://h/d?sslmode=require&user=x")
        #expect(PostgresConnectionSettings("").with("host", "/tmp").keywordConnectionString == "host='/tmp'")
    }
}
