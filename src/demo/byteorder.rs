//! Byte order (字节序): the same u32 as big-endian and little-endian bytes,
//! and what a reader gets when it assumes the other order.

use super::must;
use crate::lab::Lab;

pub fn run(lab: &mut Lab) -> Result<(), String> {
    must(lab, "tcp listen as srv")?;
    must(lab, "tcp connect srv as cli")?;
    must(lab, "accept srv as conn")?;

    lab.heading("1000 in network byte order (big-endian, 大端)");
    lab.say("1000 is 0x000003e8. Big-endian sends the most significant byte first: 00 00 03 e8.");
    must(lab, "send cli u32be:1000")?;
    let be = must(lab, "recv conn 4 --as u32be")?;
    lab.verdict(
        be.bytes.as_deref() == Some(&[0, 0, 3, 0xe8][..]) && be.value.as_deref() == Some("1000"),
        "bytes 00 00 03 e8, read back as big-endian: 1000",
    );

    lab.heading("the same 1000, little-endian (小端)");
    lab.say("Little-endian (x86, most ARM) puts the least significant byte first: e8 03 00 00.");
    must(lab, "send cli u32le:1000")?;
    let wrong = must(lab, "recv conn 4 --as u32be")?;
    lab.verdict(
        wrong.value.as_deref() == Some("3892510720"),
        format!("read with the wrong order, e8 03 00 00 is {} — not 1000", wrong.value.as_deref().unwrap_or("nothing")),
    );

    lab.heading("the native-endian header pitfall");
    let native = if cfg!(target_endian = "little") { "little" } else { "big" };
    lab.say(format!(
        "Python's struct.pack('i', 1000) writes the machine's own order ({native}-endian here), its own\n\
         int size, and a sign. Two x86 machines agree, so the bug hides — until a big-endian peer,\n\
         or a reader that uses network order ('!I'), reads the header:"
    ));
    let bytes = 1000i32.to_ne_bytes();
    let as_network = u32::from_be_bytes(bytes);
    must(lab, &format!("send cli hex:{}", bytes.iter().map(|b| format!("{b:02x}")).collect::<String>()))?;
    let pitfall = must(lab, "recv conn 4 --as u32be")?;
    let read = pitfall.value.unwrap_or_default();
    lab.verdict(
        read == as_network.to_string(),
        if as_network == 1000 {
            "on this big-endian machine native order IS network order, so 'i' happens to read back as 1000".to_string()
        } else {
            format!("a native 'i' header from this {native}-endian machine, read as network order: {read}, not 1000")
        },
    );
    lab.say("The fix: always write headers in network byte order — struct.pack('!I', n), htonl(), u32::to_be_bytes().");
    Ok(())
}
