import CCurl
import Foundation

/// One blocking libcurl transfer for a notification (an SMTP submission or a webhook POST),
/// run on a thread of its own so the cooperative pool never waits on a mail server.
final class CurlDelivery: @unchecked Sendable {
    private let curl: UnsafeMutableRawPointer
    private let errorBuffer: UnsafeMutablePointer<CChar>
    private var lists: [UnsafeMutablePointer<curl_slist>] = []
    private var strings: [UnsafeMutablePointer<CChar>] = []
    private let upload: [UInt8]
    private var uploaded = 0
    private(set) var response = Data()

    init(url: String, upload: [UInt8], caFile: String?, timeoutSeconds: Int = 30) {
        curl = curl_easy_init()!
        errorBuffer = .allocate(capacity: Int(CURL_ERROR_SIZE) + 1)
        errorBuffer.initialize(repeating: 0, count: Int(CURL_ERROR_SIZE) + 1)
        self.upload = upload
        set(CURLOPT_URL, url)
        _ = tm_curl_set_pointer(curl, CURLOPT_ERRORBUFFER, errorBuffer)
        _ = tm_curl_set_long(curl, CURLOPT_NOSIGNAL, 1)
        _ = tm_curl_set_long(curl, CURLOPT_CONNECTTIMEOUT, 10)
        _ = tm_curl_set_long(curl, CURLOPT_TIMEOUT, timeoutSeconds)
        if let caFile { set(CURLOPT_CAINFO, caFile) }
        _ = tm_curl_set_write(
            curl,
            { data, size, count, context in
                let delivery = Unmanaged<CurlDelivery>.fromOpaque(context!).takeUnretainedValue()
                delivery.response.append(
                    UnsafeBufferPointer(start: UnsafeRawPointer(data!).assumingMemoryBound(to: UInt8.self), count: size * count))
                return size * count
            }, Unmanaged.passUnretained(self).toOpaque())
    }

    deinit {
        curl_easy_cleanup(curl)
        lists.forEach { curl_slist_free_all($0) }
        strings.forEach { free($0) }
        errorBuffer.deallocate()
    }

    /// A string option; libcurl copies most, but not all, so each is kept until the end.
    func set(_ option: CURLoption, _ value: String) {
        let copy = strdup(value)!
        strings.append(copy)
        _ = tm_curl_set_pointer(curl, option, copy)
    }

    func set(_ option: CURLoption, _ value: Int) {
        _ = tm_curl_set_long(curl, option, value)
    }

    func set(_ option: CURLoption, list: [String]) {
        var head: UnsafeMutablePointer<curl_slist>?
        for item in list { head = curl_slist_append(head, item) }
        if let head {
            lists.append(head)
            _ = tm_curl_set_pointer(curl, option, head)
        }
    }

    /// The body is read from `upload` (set CURLOPT_UPLOAD for SMTP, CURLOPT_POST for HTTP).
    func readBodyFromUpload() {
        _ = tm_curl_set_read(
            curl,
            { data, size, count, context in
                Unmanaged<CurlDelivery>.fromOpaque(context!).takeUnretainedValue().read(into: data!, count: size * count)
            }, Unmanaged.passUnretained(self).toOpaque())
    }

    private func read(into buffer: UnsafeMutablePointer<CChar>, count: Int) -> Int {
        let length = min(count, upload.count - uploaded)
        upload.withUnsafeBytes { bytes in
            UnsafeMutableRawPointer(buffer).copyMemory(from: bytes.baseAddress! + uploaded, byteCount: length)
        }
        uploaded += length
        return length
    }

    /// Performs the transfer; the response code (SMTP's last reply or HTTP's status), or the
    /// error libcurl gave.
    func perform() -> Result<Int, NotificationError> {
        let code = curl_easy_perform(curl)
        guard code == CURLE_OK else {
            let detail = String(cString: errorBuffer)
            let message = String(cString: curl_easy_strerror(code))
            return .failure(NotificationError(.deliveryFailed, detail.isEmpty ? message : "\(message): \(detail)"))
        }
        return .success(tm_curl_response_code(curl))
    }

    /// Runs `body` on a thread of its own and awaits it.
    static func offPool<T: Sendable>(_ body: @escaping @Sendable () -> T) async -> T {
        await withCheckedContinuation { continuation in
            Thread.detachNewThread { continuation.resume(returning: body()) }
        }
    }
}
