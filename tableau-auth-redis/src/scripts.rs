//! The Lua scripts that run each [`StoreOp`](tableau_auth_proto::StoreOp) atomically in Redis,
//! and the strict reading of their replies.
//!
//! The record is a hash (`epoch`: 32 lowercase hex digits, `gen`: a decimal generation, `blob`:
//! the sealed session, empty for a retired record); the lock is a string holding its owner's hex,
//! set with `NX PX`. Every script reads the record defensively: a key of another type, an epoch
//! that is not 32 lowercase hex digits or a generation that is not 1 to 15 decimal digits (no
//! leading zero) is no record; a blob over 32 KiB is handed back empty. Nothing that Redis holds
//! can make a script fail.
//!
//! Each may run twice (the store tries once more on a fresh connection when a kept one failed,
//! and the first try may have reached Redis): an acquire by the lock's own owner is acquired
//! again; a second publish finds the record moved to its own session, which the policy adopts;
//! a release is a compare-and-delete.

use std::sync::LazyLock;

use redis::Value;
use tableau_auth_proto::{Record, StoreReply, Version};

use crate::StoreError;
use crate::seal::Sealer;

/// A script's source and SHA-1 (for `EVALSHA`).
pub(crate) struct Script {
    pub(crate) code: &'static str,
    pub(crate) hash: String,
}

impl Script {
    fn new(code: &'static str) -> Self {
        Self {
            code,
            hash: redis::Script::new(code).get_hash().to_owned(),
        }
    }
}

/// Reads the record at `key` as (epoch, gen, blob), each `''` when there is no valid record.
const READ_RECORD: &str = r"
local function read_record(key)
  if redis.call('TYPE', key).ok ~= 'hash' then return '', '', '' end
  local fields = redis.call('HMGET', key, 'epoch', 'gen', 'blob')
  local epoch, gen, blob = fields[1], fields[2], fields[3]
  if type(epoch) ~= 'string' or #epoch ~= 32 or not string.find(epoch, '^[0-9a-f]+$') then
    return '', '', ''
  end
  if type(gen) ~= 'string' or #gen > 15 or not string.find(gen, '^[1-9][0-9]*$') then
    return '', '', ''
  end
  if type(blob) ~= 'string' or #blob > 32768 then blob = '' end
  return epoch, gen, blob
end
";

/// KEYS: record, lock. ARGV: seen epoch (`''`: none), seen gen (`''`), owner, ttl in ms.
const ACQUIRE: &str = r"
local epoch, gen, blob = read_record(KEYS[1])
if epoch ~= ARGV[1] or gen ~= ARGV[2] then return {'moved', epoch, gen, blob} end
local kind = redis.call('TYPE', KEYS[2]).ok
if kind ~= 'none' and (kind ~= 'string' or redis.call('PTTL', KEYS[2]) < 0) then
  -- Not a lock of ours (they all expire): garbage that would block every sign-in forever.
  redis.call('DEL', KEYS[2])
end
if kind == 'string' and redis.call('GET', KEYS[2]) == ARGV[3] then
  -- Ours already: an acquire sent again after its answer was lost.
  redis.call('PEXPIRE', KEYS[2], ARGV[4])
  return {'acquired'}
end
if redis.call('SET', KEYS[2], ARGV[3], 'NX', 'PX', ARGV[4]) then return {'acquired'} end
return {'busy'}
";

/// KEYS: record, lock. ARGV: seen epoch, seen gen, new epoch, blob (`''`: retired), owner.
const PUBLISH: &str = r"
if redis.call('TYPE', KEYS[2]).ok == 'string' and redis.call('GET', KEYS[2]) == ARGV[5] then
  redis.call('DEL', KEYS[2])
end
local epoch, gen, blob = read_record(KEYS[1])
if epoch ~= ARGV[1] or gen ~= ARGV[2] then return {'moved', epoch, gen, blob} end
if epoch == '' then
  -- Whatever is there is not a record (perhaps a key of another type): replace it.
  redis.call('DEL', KEYS[1])
  epoch = ARGV[3]
  gen = '1'
else
  gen = string.format('%.0f', tonumber(gen) + 1)
end
redis.call('HSET', KEYS[1], 'epoch', epoch, 'gen', gen, 'blob', ARGV[4])
return {'published', epoch, gen}
";

/// KEYS: lock. ARGV: owner.
const RELEASE: &str = r"
if redis.call('TYPE', KEYS[1]).ok == 'string' and redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('DEL', KEYS[1])
end
return {'released'}
";

pub(crate) static ACQUIRE_SCRIPT: LazyLock<Script> =
    LazyLock::new(|| Script::new(leak_with_reader(ACQUIRE)));
pub(crate) static PUBLISH_SCRIPT: LazyLock<Script> =
    LazyLock::new(|| Script::new(leak_with_reader(PUBLISH)));
pub(crate) static RELEASE_SCRIPT: LazyLock<Script> = LazyLock::new(|| Script::new(RELEASE));

/// The reader and the script as one source (made once per process, so kept for good).
fn leak_with_reader(body: &str) -> &'static str {
    String::leak(format!("{READ_RECORD}{body}"))
}

/// Which operation a reply answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Acquire,
    Publish,
    Release,
}

impl Kind {
    pub(crate) fn script(self) -> &'static Script {
        match self {
            Self::Acquire => &ACQUIRE_SCRIPT,
            Self::Publish => &PUBLISH_SCRIPT,
            Self::Release => &RELEASE_SCRIPT,
        }
    }

    pub(crate) fn name(self) -> &'static str {
        match self {
            Self::Acquire => "acquire",
            Self::Publish => "publish",
            Self::Release => "release",
        }
    }
}

/// The epoch as the store keeps it: 32 lowercase hex digits.
pub(crate) fn epoch_text(epoch: u128) -> String {
    format!("{epoch:032x}")
}

fn unexpected(kind: Kind, what: impl Into<String>) -> StoreError {
    StoreError::UnexpectedReply {
        what: format!("{} answered {}", kind.name(), what.into()),
    }
}

fn text(value: Value) -> Option<Vec<u8>> {
    match value {
        Value::BulkString(bytes) => Some(bytes),
        Value::SimpleString(s) => Some(s.into_bytes()),
        _ => None,
    }
}

fn parse_epoch(bytes: &[u8]) -> Option<u128> {
    if bytes.len() != 32 || !bytes.iter().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
        return None;
    }
    u128::from_str_radix(std::str::from_utf8(bytes).ok()?, 16).ok()
}

fn parse_generation(bytes: &[u8]) -> Option<u64> {
    let digits = bytes.iter().all(u8::is_ascii_digit);
    if !digits || bytes.is_empty() || bytes.len() > 15 || bytes.first() == Some(&b'0') {
        return None;
    }
    std::str::from_utf8(bytes).ok()?.parse().ok()
}

fn parse_version(kind: Kind, epoch: &[u8], generation: &[u8]) -> Result<Version, StoreError> {
    match (parse_epoch(epoch), parse_generation(generation)) {
        (Some(epoch), Some(generation)) => Ok(Version { epoch, generation }),
        _ => Err(unexpected(kind, "a malformed version")),
    }
}

/// Reads a script's reply strictly: anything the script does not return is an error.
pub(crate) fn parse_reply(
    kind: Kind,
    reply: Value,
    sealer: &Sealer,
) -> Result<StoreReply, StoreError> {
    let Value::Array(items) = reply else {
        return Err(unexpected(kind, "something other than an array"));
    };
    let count = items.len();
    let mut parts = Vec::with_capacity(count);
    for item in items {
        parts.push(text(item).ok_or_else(|| unexpected(kind, "an element that is not a string"))?);
    }
    let tag = parts.first().map(Vec::as_slice).unwrap_or_default();
    match (kind, tag, parts.as_slice()) {
        (Kind::Acquire | Kind::Publish, b"moved", [_, epoch, generation, blob]) => {
            if epoch.is_empty() && generation.is_empty() {
                return Ok(StoreReply::Moved(None));
            }
            let version = parse_version(kind, epoch, generation)?;
            let session = if blob.is_empty() {
                None
            } else {
                sealer.open(blob)
            };
            Ok(StoreReply::Moved(Some(Record { version, session })))
        }
        (Kind::Acquire, b"acquired", [_]) => Ok(StoreReply::Acquired),
        (Kind::Acquire, b"busy", [_]) => Ok(StoreReply::Busy),
        (Kind::Publish, b"published", [_, epoch, generation]) => Ok(StoreReply::Published(
            parse_version(kind, epoch, generation)?,
        )),
        (Kind::Release, b"released", [_]) => Ok(StoreReply::Released),
        _ => Err(unexpected(
            kind,
            format!("an array of {count} that is not one of its replies"),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tableau_auth_proto::{Credentials, FleetScope, SignIn};

    fn sealer() -> Sealer {
        let scope = FleetScope::new(
            "https://tableau.example.com",
            &SignIn::new(
                Credentials::personal_access_token("etl", "secret"),
                "Finance",
            ),
        );
        Sealer::for_scope(&scope, None).unwrap()
    }

    fn array(parts: &[&[u8]]) -> Value {
        Value::Array(
            parts
                .iter()
                .map(|p| Value::BulkString(p.to_vec()))
                .collect(),
        )
    }

    const EPOCH: &[u8] = b"0123456789abcdef0123456789abcdef";

    #[test]
    fn versions_parse_strictly() {
        assert_eq!(parse_epoch(EPOCH), Some(0x0123456789abcdef0123456789abcdef));
        assert_eq!(
            epoch_text(0x0123456789abcdef0123456789abcdef).as_bytes(),
            EPOCH
        );
        assert_eq!(epoch_text(1), "00000000000000000000000000000001");
        for bad in [
            &b"0123456789ABCDEF0123456789abcdef"[..],
            b"0123456789abcdef0123456789abcde",
            b"+123456789abcdef0123456789abcdef",
            b"",
        ] {
            assert_eq!(parse_epoch(bad), None);
        }
        assert_eq!(parse_generation(b"1"), Some(1));
        assert_eq!(
            parse_generation(b"999999999999999"),
            Some(999_999_999_999_999)
        );
        for bad in [
            &b"0"[..],
            b"01",
            b"",
            b"+1",
            b"1e3",
            b"1000000000000000",
            b"abc",
        ] {
            assert_eq!(parse_generation(bad), None);
        }
    }

    #[test]
    fn replies_parse_into_store_replies_for_their_operation_only() {
        let s = sealer();
        assert!(matches!(
            parse_reply(Kind::Acquire, array(&[b"acquired"]), &s),
            Ok(StoreReply::Acquired)
        ));
        assert!(matches!(
            parse_reply(Kind::Acquire, array(&[b"busy"]), &s),
            Ok(StoreReply::Busy)
        ));
        assert!(matches!(
            parse_reply(Kind::Acquire, array(&[b"moved", b"", b"", b""]), &s),
            Ok(StoreReply::Moved(None))
        ));
        let Ok(StoreReply::Moved(Some(record))) =
            parse_reply(Kind::Publish, array(&[b"moved", EPOCH, b"7", b"junk"]), &s)
        else {
            panic!("a moved record");
        };
        assert_eq!(record.version.generation, 7);
        assert!(record.session.is_none());
        let Ok(StoreReply::Published(v)) =
            parse_reply(Kind::Publish, array(&[b"published", EPOCH, b"1"]), &s)
        else {
            panic!("published");
        };
        assert_eq!(v.generation, 1);
        assert!(matches!(
            parse_reply(Kind::Release, array(&[b"released"]), &s),
            Ok(StoreReply::Released)
        ));

        for (kind, bad) in [
            (Kind::Release, array(&[b"acquired"])),
            (Kind::Publish, array(&[b"busy"])),
            (Kind::Acquire, array(&[b"published", EPOCH, b"1"])),
            (Kind::Acquire, array(&[b"moved", b"", b"1", b""])),
            (Kind::Acquire, array(&[b"moved", EPOCH, b"0", b""])),
            (Kind::Acquire, array(&[b"moved", EPOCH, b"1"])),
            (Kind::Acquire, array(&[b"acquired", b"extra"])),
            (Kind::Acquire, array(&[])),
            (Kind::Acquire, Value::Nil),
            (Kind::Acquire, Value::Int(1)),
            (Kind::Acquire, Value::Array(vec![Value::Int(1)])),
            (Kind::Publish, array(&[b"published", b"", b""])),
        ] {
            assert!(
                matches!(
                    parse_reply(kind, bad, &s),
                    Err(StoreError::UnexpectedReply { .. })
                ),
                "{kind:?}"
            );
        }
    }
}
