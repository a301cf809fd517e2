//! One behavioural suite for every implementation of the semantics traits ([`HeaderMaps`],
//! [`LogSink`], [`LocalReplies`], [`PropertySource`]): the in-process host runs it against its
//! own state and the Envoy bridge against its in-memory Envoy, so both answer a filter's
//! hostcalls alike. Each function panics (as a test assertion) at the first difference, naming
//! the hostcall and what it answered.

use crate::header_maps::{self, HeaderMaps};
use crate::local_reply::{self, LocalReplies};
use crate::logging::{self, LogSink};
use crate::pairs;
use crate::properties::{self, PropertySource};
use crate::{LogLevel, Status};

const REQUEST_HEADERS: u32 = 0;
const HTTP_CALL_RESPONSE_HEADERS: u32 = 6;
const NOT_A_MAP: u32 = 99;

/// Owned (key, value) pairs, as text for readable failures.
fn text_pairs(maps: &mut impl HeaderMaps, map: u32) -> Vec<(String, String)> {
    let mut bytes = Vec::new();
    header_maps::serialize(&*maps, map, &mut bytes).expect("proxy_get_header_map_pairs");
    assert_eq!(
        header_maps::serialized_size(maps, map),
        Ok(bytes.len()),
        "proxy_get_header_map_size must be the length of the serialized pairs"
    );
    pairs::deserialize(&bytes)
        .expect("serialized pairs parse back")
        .into_iter()
        .map(|(k, v)| {
            (
                String::from_utf8_lossy(k).into_owned(),
                String::from_utf8_lossy(v).into_owned(),
            )
        })
        .collect()
}

fn owned(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// The header-map hostcalls. `make(request)` builds an implementation in a stream's request
/// phase whose request headers are `request` (keys lower case) and which has no HTTP-call
/// response.
pub fn header_maps<H: HeaderMaps>(make: impl Fn(&[(&str, &str)]) -> H) {
    let request = [(":path", "/p"), ("x-a", "1"), ("x-a", "2"), ("x-b", "b")];
    let mut maps = make(&request);

    assert_eq!(
        text_pairs(&mut maps, REQUEST_HEADERS),
        owned(&request),
        "pairs in order"
    );
    assert_eq!(
        header_maps::value(&maps, REQUEST_HEADERS, b"X-A"),
        Ok(b"1".as_slice()),
        "the first value, whatever the key's case"
    );
    assert_eq!(
        header_maps::value(&maps, REQUEST_HEADERS, b"x-missing"),
        Err(Status::NotFound)
    );
    assert_eq!(
        header_maps::value(&maps, NOT_A_MAP, b"x-a"),
        Err(Status::BadArgument)
    );
    assert_eq!(
        header_maps::value(&maps, HTTP_CALL_RESPONSE_HEADERS, b"x-a"),
        Err(Status::BadArgument),
        "no HTTP call's answer is being delivered"
    );
    let mut absent = Vec::new();
    header_maps::serialize(&maps, HTTP_CALL_RESPONSE_HEADERS, &mut absent).unwrap();
    assert_eq!(
        absent,
        [0, 0, 0, 0],
        "the pairs of a map not there: an empty map"
    );
    assert_eq!(
        header_maps::add(&mut maps, NOT_A_MAP, b"x", b"y"),
        Err(Status::BadArgument)
    );

    assert_eq!(
        header_maps::replace(&mut maps, REQUEST_HEADERS, b"X-A", b"3"),
        Ok(())
    );
    let after: Vec<_> = text_pairs(&mut maps, REQUEST_HEADERS);
    assert_eq!(
        after.iter().filter(|(k, _)| k == "x-a").count(),
        1,
        "replace leaves one value: {after:?}"
    );
    assert_eq!(
        header_maps::value(&maps, REQUEST_HEADERS, b"x-a"),
        Ok(b"3".as_slice())
    );
    assert_eq!(
        header_maps::add(&mut maps, REQUEST_HEADERS, b"X-B", b"c"),
        Ok(())
    );
    assert_eq!(
        header_maps::remove(&mut maps, REQUEST_HEADERS, b"x-absent"),
        Ok(()),
        "removing a missing header is OK"
    );
    assert_eq!(
        header_maps::remove(&mut maps, REQUEST_HEADERS, b"X-A"),
        Ok(())
    );
    let after = text_pairs(&mut maps, REQUEST_HEADERS);
    assert_eq!(
        after,
        owned(&[(":path", "/p"), ("x-b", "b"), ("x-b", "c")]),
        "add keeps the key's other values and appends; remove drops every value"
    );
    assert_eq!(
        header_maps::replace(&mut maps, REQUEST_HEADERS, b"x-new", b"n"),
        Ok(())
    );
    assert_eq!(
        header_maps::value(&maps, REQUEST_HEADERS, b"x-new"),
        Ok(b"n".as_slice()),
        "replace adds a missing key"
    );

    let before = text_pairs(&mut maps, REQUEST_HEADERS);
    let new = pairs::serialize(&[(":path", "/new"), ("X-New", "2")]);
    assert_eq!(
        header_maps::set_pairs(&mut maps, REQUEST_HEADERS, &new[..new.len() - 2]),
        Err(Status::BadArgument),
        "a malformed map is refused"
    );
    assert_eq!(
        text_pairs(&mut maps, REQUEST_HEADERS),
        before,
        "a refused map changes nothing"
    );
    assert_eq!(
        header_maps::set_pairs(&mut maps, REQUEST_HEADERS, &new),
        Ok(())
    );
    assert_eq!(
        text_pairs(&mut maps, REQUEST_HEADERS),
        owned(&[(":path", "/new"), ("x-new", "2")]),
        "set-pairs replaces the map, keys lower-cased"
    );
    assert_eq!(
        header_maps::set_pairs(&mut maps, REQUEST_HEADERS, &[]),
        Ok(())
    );
    assert_eq!(text_pairs(&mut maps, REQUEST_HEADERS), owned(&[]));
}

/// `proxy_log` and `proxy_get_log_level`. `make(level)` builds a sink that writes lines at
/// `level` and above; `written` lists what it wrote.
pub fn logging<S: LogSink>(
    make: impl Fn(LogLevel) -> S,
    written: impl Fn(&S) -> Vec<(LogLevel, Vec<u8>)>,
) {
    let mut sink = make(LogLevel::Warn);
    assert_eq!(logging::log_level(&sink), LogLevel::Warn.raw());
    assert_eq!(
        logging::log(&mut sink, LogLevel::Info.raw(), b"quiet"),
        Ok(())
    );
    assert_eq!(
        logging::log(&mut sink, LogLevel::Warn.raw(), b"warn"),
        Ok(())
    );
    assert_eq!(
        logging::log(&mut sink, LogLevel::Critical.raw(), b"loud"),
        Ok(())
    );
    assert_eq!(
        logging::log(&mut sink, 6, b"no such level"),
        Err(Status::BadArgument)
    );
    assert_eq!(
        written(&sink),
        vec![
            (LogLevel::Warn, b"warn".to_vec()),
            (LogLevel::Critical, b"loud".to_vec())
        ],
        "lines below the level are dropped"
    );
    let sink = make(LogLevel::Trace);
    assert_eq!(logging::log_level(&sink), LogLevel::Trace.raw());
}

/// A local reply as an implementation recorded it: status, headers (keys lower case), body,
/// details.
pub type SentReply = (u32, Vec<(Vec<u8>, Vec<u8>)>, Vec<u8>, Vec<u8>);

/// `proxy_send_local_response`. `make()` builds an implementation in a stream's request phase;
/// `sent` lists the replies it will send (keys lower case).
pub fn local_replies<T: LocalReplies>(
    make: impl Fn() -> T,
    sent: impl Fn(&mut T) -> Vec<SentReply>,
) {
    let headers = pairs::serialize(&[("X-Reply", "1")]);
    let mut target = make();
    let send = |target: &mut T, status: u32, headers: &[u8]| {
        local_reply::send(target, status, b"details", b"denied", headers, -1)
    };
    assert_eq!(
        send(&mut target, 403, &headers[..headers.len() - 1]),
        Err(Status::BadArgument),
        "malformed headers"
    );
    assert_eq!(send(&mut target, 99, &headers), Err(Status::BadArgument));
    assert_eq!(send(&mut target, 1000, &headers), Err(Status::BadArgument));
    assert_eq!(target.replied(), Ok(false), "refused replies send nothing");
    assert_eq!(send(&mut target, 403, &headers), Ok(()));
    assert_eq!(target.replied(), Ok(true));
    assert_eq!(
        send(&mut target, 500, &[]),
        Err(Status::BadArgument),
        "a stream is answered once"
    );
    assert_eq!(
        sent(&mut target),
        vec![(
            403,
            vec![(b"x-reply".to_vec(), b"1".to_vec())],
            b"denied".to_vec(),
            b"details".to_vec()
        )]
    );
}

/// `proxy_get_property`. `make(path)` builds a source in a stream whose request path is `path`.
pub fn properties<P: PropertySource>(make: impl Fn(&str) -> P) {
    let source = make("/index.html");
    let plugin = source.plugin();
    assert_eq!(
        properties::get(&source, b"request\0path\0"),
        Ok(b"/index.html".to_vec())
    );
    assert_eq!(
        properties::get(&source, b"plugin_name"),
        Ok(plugin.name.as_bytes().to_vec())
    );
    assert_eq!(
        properties::get(&source, b"plugin_vm_id\0"),
        Ok(plugin.vm_id.as_bytes().to_vec())
    );
    assert_eq!(
        properties::get(&source, b"plugin_root_id"),
        Ok(plugin.root_id.as_bytes().to_vec())
    );
    assert_eq!(
        properties::get(&source, b"no\0such\0property"),
        Err(Status::NotFound)
    );
    assert_eq!(
        properties::get(&source, b"request\0\xff"),
        Err(Status::NotFound),
        "a path that is not UTF-8 names nothing"
    );
}
