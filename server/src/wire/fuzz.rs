//! Fuzz targets for what reads client bytes first: pgwire's frontend message decoder, in
//! each of its states (SSL negotiation, startup, normal), and [`MessageLimit`]'s framing,
//! which must come to the same verdict however the bytes are split into reads. They run as
//! ordinary `cargo test` (bolero draws a bounded number of inputs) and as real fuzzing with
//! `cargo bolero test --rustc-bootstrap wire::fuzz::...`.

use bytes::BytesMut;
use pgwire::messages::{DecodeContext, PgWireFrontendMessage, ProtocolVersion};

use super::framing::MessageLimit;

#[test]
fn frontend_messages_decode_or_fail_without_panicking() {
    bolero::check!()
        .with_type::<(u8, Vec<u8>)>()
        .for_each(|(state, data)| {
            let version = if state & 4 == 0 {
                ProtocolVersion::PROTOCOL3_0
            } else {
                ProtocolVersion::PROTOCOL3_2
            };
            let mut context = DecodeContext::new(version);
            context.awaiting_frontend_ssl = state & 1 != 0;
            context.awaiting_frontend_startup = state & 2 != 0;
            let mut buffer = BytesMut::from(&data[..]);
            // As the codec does: decode while whole messages are buffered.
            for _ in 0..256 {
                match PgWireFrontendMessage::decode(&mut buffer, &context) {
                    Ok(Some(_)) if !buffer.is_empty() => continue,
                    _ => break,
                }
            }
        });
}

#[test]
fn message_framing_does_not_depend_on_read_boundaries() {
    bolero::check!()
        .with_type::<(u16, u8, Vec<u8>)>()
        .for_each(|(limit, chunk, data)| {
            let limit = *limit as usize;
            let whole = MessageLimit::new((), limit).scan(data).is_ok();
            let mut split = MessageLimit::new((), limit);
            let chunk = 1 + *chunk as usize;
            let pieces = data.chunks(chunk).all(|piece| split.scan(piece).is_ok());
            assert_eq!(whole, pieces, "limit {limit}, reads of {chunk} bytes");
        });
}
