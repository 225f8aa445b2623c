// TapsReports: SVG figures rendered to PNG by librsvg and cairo (for pasting into documents and slides).
import CRsvg
import Foundation
import TapsTraining

/// Renders SVG documents to PNG with librsvg (parsing, text layout through Pango/fontconfig) and cairo (rasterising,
/// PNG encoding). The picture is painted on white, so the PNG is opaque whatever the SVG's background.
public enum PNGRenderer {
    /// Errors of librsvg or cairo.
    public struct RenderError: Error, CustomStringConvertible, Equatable {
        public var file: String
        public var reason: String
        public var description: String { "cannot render \(file) to PNG: \(reason)" }
    }

    /// PNG bytes of `svg` at `scale` times its intrinsic size in pixels (2: sharp on high-density screens and in print).
    /// - Throws: `RenderError` naming `source` when librsvg cannot parse the SVG or cairo cannot encode the PNG.
    public static func png(svg: Data, scale: Double = 2, source: String = "SVG") throws -> Data {
        var error: UnsafeMutablePointer<GError>?
        let handle = svg.withUnsafeBytes { raw in
            rsvg_handle_new_from_data(raw.bindMemory(to: guint8.self).baseAddress, gsize(raw.count), &error)
        }
        guard let handle else { throw RenderError(file: source, reason: takeMessage(&error)) }
        defer { g_object_unref(UnsafeMutableRawPointer(handle)) }
        var width = 0.0, height = 0.0
        guard rsvg_handle_get_intrinsic_size_in_pixels(handle, &width, &height) != 0, width > 0, height > 0 else {
            throw RenderError(file: source, reason: "the SVG has no width and height in pixels")
        }
        let w = Int32((width * scale).rounded(.up)), h = Int32((height * scale).rounded(.up))
        let surface = cairo_image_surface_create(CAIRO_FORMAT_ARGB32, w, h)
        defer { cairo_surface_destroy(surface) }
        let cr = cairo_create(surface)
        defer { cairo_destroy(cr) }
        cairo_set_source_rgb(cr, 1, 1, 1)
        cairo_paint(cr)
        var viewport = RsvgRectangle(x: 0, y: 0, width: Double(w), height: Double(h))
        guard rsvg_handle_render_document(handle, cr, &viewport, &error) != 0 else {
            throw RenderError(file: source, reason: takeMessage(&error))
        }
        cairo_surface_flush(surface)
        let sink = ByteSink()
        let status = cairo_surface_write_to_png_stream(surface, { closure, bytes, length in
            guard let closure, let bytes else { return CAIRO_STATUS_WRITE_ERROR }
            Unmanaged<ByteSink>.fromOpaque(closure).takeUnretainedValue().data.append(bytes, count: Int(length))
            return CAIRO_STATUS_SUCCESS
        }, Unmanaged.passUnretained(sink).toOpaque())
        guard status == CAIRO_STATUS_SUCCESS else {
            throw RenderError(file: source, reason: String(cString: cairo_status_to_string(status)))
        }
        return sink.data
    }

    /// Renders the SVG file `svgPath` to `pngPath` (atomically).
    /// - Throws: `FileError` for unreadable or unwritable files, `RenderError` for SVGs librsvg rejects.
    public static func render(svgFile svgPath: String, to pngPath: String, scale: Double = 2) throws {
        let svg: Data
        do { svg = try Data(contentsOf: URL(fileURLWithPath: svgPath)) } catch {
            throw FileError(action: "read", path: svgPath, reason: "no such file or not readable")
        }
        try writeAtomically(try png(svg: svg, scale: scale, source: svgPath), to: URL(fileURLWithPath: pngPath))
    }

    private final class ByteSink { var data = Data() }

    private static func takeMessage(_ error: inout UnsafeMutablePointer<GError>?) -> String {
        guard let e = error else { return "unknown librsvg error" }
        defer { g_error_free(e); error = nil }
        return e.pointee.message.map { String(cString: $0) } ?? "unknown librsvg error"
    }
}
