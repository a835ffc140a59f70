//! `ECallMessage::parse`: the seed's example, round trips, and every refusal with its message.

use serde_json::json;
use switchboard_ecall::{ECallMessage, MessageError, MessageType, Props};

fn err(content: &str) -> MessageError {
    ECallMessage::parse(content).expect_err("should be refused")
}

#[test]
fn parses_the_seed_example() {
    let content =
        r#"{"version":"3.0","resp":false,"sessid":"a1B2","type":"SETUP","props":{"videosend":"true"},"sdp":"v=0..."}"#;
    let message = ECallMessage::parse(content).unwrap();
    assert_eq!(message.kind, MessageType::Setup);
    assert!(!message.resp);
    assert_eq!(message.sessid, "a1B2");
    assert_eq!(message.props, Some(Props::from([("videosend".into(), "true".into())])));
    assert_eq!(message.sdp.as_deref(), Some("v=0..."));
    // Written back in Wire's field order, byte for byte.
    assert_eq!(message.to_json(), content);
}

#[test]
fn every_type_parses_and_round_trips() {
    for kind in MessageType::ALL {
        for resp in [false, true] {
            let mut message = ECallMessage::new(kind, resp, "Zz09");
            if kind.needs_sdp() {
                message = message.with_sdp("v=0");
            }
            if kind.carries_props() {
                message = message.with_props(Props::from([("videosend".into(), "false".into())]));
            }
            assert_eq!(ECallMessage::parse(&message.to_json()).unwrap(), message, "{kind} resp {resp}");
            assert_eq!(MessageType::from_name(kind.as_str()), Some(kind));
        }
    }
}

#[test]
fn optional_fields_may_be_absent_or_null_and_extra_fields_are_dropped() {
    let cancel = ECallMessage::parse(r#"{"version":"3.0","resp":true,"sessid":"x","type":"CANCEL"}"#).unwrap();
    assert_eq!(cancel, ECallMessage::new(MessageType::Cancel, true, "x"));
    assert_eq!(cancel.to_json(), r#"{"version":"3.0","resp":true,"sessid":"x","type":"CANCEL"}"#);

    let nulls = r#"{"version":"3.0","resp":false,"sessid":"x","type":"HANGUP","props":null,"sdp":null}"#;
    assert_eq!(ECallMessage::parse(nulls).unwrap(), ECallMessage::new(MessageType::Hangup, false, "x"));

    let extra = r#"{"version":"3.0","resp":false,"sessid":"x","type":"PROPSYNC","props":{},"src_userid":"u"}"#;
    assert_eq!(ECallMessage::parse(extra).unwrap().props, Some(Props::new()));
}

#[test]
fn serde_runs_the_same_validation() {
    let message: ECallMessage =
        serde_json::from_value(json!({"version": "3.0", "resp": true, "sessid": "s", "type": "REJECT"})).unwrap();
    assert_eq!(message.kind, MessageType::Reject);
    let refused = serde_json::from_value::<ECallMessage>(json!({"version": "2.0", "resp": true, "sessid": "s"}));
    assert!(refused.unwrap_err().to_string().contains("unsupported ecall version \"2.0\""));
    assert_eq!(
        serde_json::to_value(&message).unwrap(),
        json!({"version": "3.0", "resp": true, "sessid": "s", "type": "REJECT"})
    );
}

#[test]
fn refuses_what_is_not_a_json_object() {
    assert!(matches!(err("{"), MessageError::NotJson(_)));
    assert!(err("SETUP").to_string().starts_with("the ecall message is not JSON: "));
    assert_eq!(err("[1,2]"), MessageError::NotAnObject);
    assert_eq!(err(r#""text""#), MessageError::NotAnObject);
    assert_eq!(err("[]").to_string(), "the ecall message must be a JSON object");
}

#[test]
fn refuses_a_missing_or_wrong_version() {
    assert_eq!(err(r#"{"resp":false,"sessid":"s","type":"HANGUP"}"#), MessageError::MissingField("version"));
    let unsupported = err(r#"{"version":"2.0","resp":false,"sessid":"s","type":"HANGUP"}"#);
    assert_eq!(unsupported, MessageError::UnsupportedVersion("2.0".into()));
    assert_eq!(unsupported.to_string(), r#"unsupported ecall version "2.0": only "3.0" is supported"#);
    let number = err(r#"{"version":3.0,"resp":false,"sessid":"s","type":"HANGUP"}"#);
    assert_eq!(number, MessageError::WrongType { field: "version", expected: "the string \"3.0\"" });
    assert_eq!(number.to_string(), r#"the `version` field of the ecall message must be the string "3.0""#);
}

#[test]
fn refuses_a_missing_or_unknown_type() {
    assert_eq!(err(r#"{"version":"3.0","resp":false,"sessid":"s"}"#), MessageError::MissingField("type"));
    assert_eq!(
        err(r#"{"version":"3.0","resp":false,"sessid":"s"}"#).to_string(),
        "the ecall message has no `type` field"
    );
    let group = err(r#"{"version":"3.0","resp":false,"sessid":"s","type":"GROUPSTART"}"#);
    assert_eq!(group, MessageError::UnknownType("GROUPSTART".into()));
    assert_eq!(
        group.to_string(),
        r#"unknown ecall message type "GROUPSTART": expected SETUP, CANCEL, HANGUP, PROPSYNC, UPDATE or REJECT"#
    );
    // Names are exact: Wire writes them in upper case.
    assert_eq!(
        err(r#"{"version":"3.0","resp":false,"sessid":"s","type":"setup","sdp":"v=0"}"#),
        MessageError::UnknownType("setup".into())
    );
    assert!(matches!(
        err(r#"{"version":"3.0","resp":false,"sessid":"s","type":1}"#),
        MessageError::WrongType { field: "type", .. }
    ));
}

#[test]
fn refuses_a_resp_that_is_not_a_bool() {
    assert_eq!(err(r#"{"version":"3.0","sessid":"s","type":"HANGUP"}"#), MessageError::MissingField("resp"));
    let text = err(r#"{"version":"3.0","resp":"false","sessid":"s","type":"HANGUP"}"#);
    assert_eq!(text, MessageError::WrongType { field: "resp", expected: "a boolean" });
    assert_eq!(text.to_string(), "the `resp` field of the ecall message must be a boolean");
    assert!(matches!(
        err(r#"{"version":"3.0","resp":0,"sessid":"s","type":"HANGUP"}"#),
        MessageError::WrongType { field: "resp", .. }
    ));
}

#[test]
fn refuses_a_missing_empty_or_non_string_sessid() {
    assert_eq!(err(r#"{"version":"3.0","resp":false,"type":"HANGUP"}"#), MessageError::MissingField("sessid"));
    let empty = err(r#"{"version":"3.0","resp":false,"sessid":"","type":"HANGUP"}"#);
    assert_eq!(empty, MessageError::EmptySessid);
    assert_eq!(empty.to_string(), "the `sessid` of the ecall message must not be empty");
    assert!(matches!(
        err(r#"{"version":"3.0","resp":false,"sessid":1234,"type":"HANGUP"}"#),
        MessageError::WrongType { field: "sessid", .. }
    ));
}

#[test]
fn refuses_props_that_are_not_strings() {
    let boolean = err(r#"{"version":"3.0","resp":false,"sessid":"s","type":"PROPSYNC","props":{"videosend":true}}"#);
    assert_eq!(boolean, MessageError::PropNotString("videosend".into()));
    assert_eq!(boolean.to_string(), r#"the ecall property `videosend` must be a string such as "true" or "false""#);
    assert_eq!(
        err(r#"{"version":"3.0","resp":false,"sessid":"s","type":"PROPSYNC","props":["videosend"]}"#),
        MessageError::WrongType { field: "props", expected: "an object of strings" }
    );
}

#[test]
fn refuses_setup_and_update_without_sdp() {
    let setup = err(r#"{"version":"3.0","resp":false,"sessid":"s","type":"SETUP","props":{"videosend":"false"}}"#);
    assert_eq!(setup, MessageError::MissingSdp(MessageType::Setup));
    assert_eq!(setup.to_string(), "an ecall SETUP message needs an `sdp`");
    assert_eq!(
        err(r#"{"version":"3.0","resp":true,"sessid":"s","type":"UPDATE","sdp":null}"#),
        MessageError::MissingSdp(MessageType::Update)
    );
    assert_eq!(
        err(r#"{"version":"3.0","resp":true,"sessid":"s","type":"SETUP","sdp":{"type":"answer"}}"#),
        MessageError::WrongType { field: "sdp", expected: "a string" }
    );
}
