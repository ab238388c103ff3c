import CCurl
import Crypto
import EventStore
import Foundation

/// One webhook delivery: a JSON POST signed with HMAC-SHA256 of the body under the channel's
/// secret (`X-Tidemark-Signature: sha256=<hex>`), so the receiver can tell it came from this
/// server; `X-Tidemark-Delivery` is the same on every attempt, so a receiver can drop repeats.
/// Any 2xx is delivered; anything else is a failure to retry.
enum WebhookSender {
    static func signature(_ body: [UInt8], secret: String) -> String {
        let mac = HMAC<SHA256>.authenticationCode(for: body, using: SymmetricKey(data: Data(secret.utf8)))
        return "sha256=" + mac.hexString
    }

    static func send(
        _ webhook: NotificationChannel.Webhook, secret: String, body: [UInt8], delivery: String
    ) async -> Result<String, NotificationError> {
        let signature = signature(body, secret: secret)
        return await CurlDelivery.offPool {
            let transfer = CurlDelivery(url: webhook.url, upload: body, caFile: webhook.caFile)
            transfer.set(
                CURLOPT_HTTPHEADER,
                list: [
                    "Content-Type: application/json", "User-Agent: Tidemark", "X-Tidemark-Event: session.finished",
                    "X-Tidemark-Delivery: \(delivery)", "X-Tidemark-Signature: \(signature)", "Expect:",
                ])
            transfer.readBodyFromUpload()
            transfer.set(CURLOPT_POST, 1)
            transfer.set(CURLOPT_POSTFIELDSIZE, body.count)
            return transfer.perform().flatMap { status in
                (200..<300).contains(status)
                    ? .success("HTTP \(status)") : .failure(NotificationError(.deliveryFailed, "the webhook answered HTTP \(status)"))
            }
        }
    }
}
