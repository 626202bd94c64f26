//! Access control lists: a folder restricted to its owner, Administrators
//! and SYSTEM (what mode 0700 is on Unix), and whether a file's DACL lets
//! every user read it (what the "other" read bit is on Unix).

use super::ifaddr::wide_text;
use std::io;
use std::os::windows::ffi::OsStrExt;
use std::path::Path;
use windows_sys::Win32::Foundation::{
    CloseHandle, LocalFree, ERROR_SUCCESS, GENERIC_ALL, GENERIC_READ, HANDLE,
};
use windows_sys::Win32::Security::Authorization::{
    ConvertSidToStringSidW, ConvertStringSecurityDescriptorToSecurityDescriptorW,
    GetNamedSecurityInfoW, SDDL_REVISION_1, SE_FILE_OBJECT,
};
use windows_sys::Win32::Security::{
    GetAce, GetTokenInformation, IsWellKnownSid, SetFileSecurityW, TokenUser,
    WinAuthenticatedUserSid, WinBuiltinUsersSid, WinWorldSid, ACCESS_ALLOWED_ACE, ACL,
    DACL_SECURITY_INFORMATION, INHERIT_ONLY_ACE, PROTECTED_DACL_SECURITY_INFORMATION,
    PSECURITY_DESCRIPTOR, TOKEN_QUERY, TOKEN_USER, WELL_KNOWN_SID_TYPE,
};
use windows_sys::Win32::Storage::FileSystem::FILE_READ_DATA;
use windows_sys::Win32::System::Threading::{GetCurrentProcess, OpenProcessToken};

const ACCESS_ALLOWED_ACE_TYPE: u8 = 0;
const ACCESS_DENIED_ACE_TYPE: u8 = 1;

/// The rights of an ACE that let its holder read a file's content.
const READ_RIGHTS: u32 = FILE_READ_DATA | GENERIC_READ | GENERIC_ALL;

/// The groups every user of the machine is in.
const EVERYONE: [(WELL_KNOWN_SID_TYPE, &str); 3] = [
    (WinWorldSid, "Everyone"),
    (WinAuthenticatedUserSid, "Authenticated Users"),
    (WinBuiltinUsersSid, "Users"),
];

fn wide(path: &Path) -> Vec<u16> {
    path.as_os_str().encode_wide().chain([0]).collect()
}

/// A security descriptor the system allocated (LocalAlloc), freed on drop.
pub struct OwnedSd(PSECURITY_DESCRIPTOR);

impl Drop for OwnedSd {
    fn drop(&mut self) {
        // SAFETY: allocated by the system with LocalAlloc, freed once.
        unsafe { LocalFree(self.0) };
    }
}

impl OwnedSd {
    /// A security descriptor from its SDDL text.
    pub fn from_sddl(sddl: &str) -> io::Result<OwnedSd> {
        let text: Vec<u16> = sddl.encode_utf16().chain([0]).collect();
        let mut sd: PSECURITY_DESCRIPTOR = std::ptr::null_mut();
        // SAFETY: a NUL-terminated string; `sd` receives an allocation.
        let ok = unsafe {
            ConvertStringSecurityDescriptorToSecurityDescriptorW(
                text.as_ptr(),
                SDDL_REVISION_1,
                &mut sd,
                std::ptr::null_mut(),
            )
        };
        if ok == 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(OwnedSd(sd))
    }

    /// The descriptor's DACL (null: no DACL, every access allowed), or
    /// `None` when it has no DACL part at all.
    #[cfg(test)]
    fn dacl(&self) -> io::Result<Option<*const ACL>> {
        use windows_sys::Win32::Security::GetSecurityDescriptorDacl;
        let (mut present, mut defaulted) = (0, 0);
        let mut dacl: *mut ACL = std::ptr::null_mut();
        // SAFETY: `self.0` is a valid descriptor; the outputs are ours.
        let ok =
            unsafe { GetSecurityDescriptorDacl(self.0, &mut present, &mut dacl, &mut defaulted) };
        if ok == 0 {
            return Err(io::Error::last_os_error());
        }
        Ok((present != 0).then_some(dacl as *const ACL))
    }
}

/// The SID of the user this process runs as, in its text form (`S-1-5-21-…`).
fn current_user_sid() -> io::Result<String> {
    let mut token: HANDLE = std::ptr::null_mut();
    // SAFETY: the pseudo-handle of this process; `token` receives a handle.
    if unsafe { OpenProcessToken(GetCurrentProcess(), TOKEN_QUERY, &mut token) } == 0 {
        return Err(io::Error::last_os_error());
    }
    // TOKEN_USER is followed by the SID it points to: a buffer of u64s, so
    // that it is aligned.
    let mut buf = vec![0u64; 64];
    let mut len = 0u32;
    // SAFETY: the pointer and size describe `buf`.
    let ok = unsafe {
        GetTokenInformation(
            token,
            TokenUser,
            buf.as_mut_ptr().cast(),
            (buf.len() * 8) as u32,
            &mut len,
        )
    };
    let e = io::Error::last_os_error();
    // SAFETY: the token handle is ours, closed once.
    unsafe { CloseHandle(token) };
    if ok == 0 {
        return Err(e);
    }
    // SAFETY: the call filled a TOKEN_USER at the start of `buf`.
    let user = unsafe { &*(buf.as_ptr() as *const TOKEN_USER) };
    let mut text: *mut u16 = std::ptr::null_mut();
    // SAFETY: the SID lies in `buf`; `text` receives a LocalAlloc'd string.
    if unsafe { ConvertSidToStringSidW(user.User.Sid, &mut text) } == 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: a NUL-terminated string the call allocated, freed once.
    let sid = unsafe { wide_text(text) };
    unsafe { LocalFree(text.cast()) };
    Ok(sid)
}

/// The DACL of a private folder in SDDL: protected (nothing inherited from
/// the parent, so `%ProgramData%`'s "Users may read" does not reach it),
/// full control for `owner`, Administrators and SYSTEM, inherited by what
/// is made inside.
pub fn private_dacl_sddl(owner: &str) -> String {
    format!("D:P(A;OICI;FA;;;{owner})(A;OICI;FA;;;BA)(A;OICI;FA;;;SY)")
}

/// Give `path` the private DACL, for the user this process runs as.
pub fn restrict_to_owner(path: &Path) -> io::Result<()> {
    set_dacl(path, &private_dacl_sddl(&current_user_sid()?))
}

/// Give `path` the DACL written in SDDL (`D:…`).
pub fn set_dacl(path: &Path, sddl: &str) -> io::Result<()> {
    let sd = OwnedSd::from_sddl(sddl)?;
    let name = wide(path);
    // SAFETY: a NUL-terminated path and a valid descriptor. A DACL marked
    // protected in the descriptor ("D:P") stays so: the flag says it.
    let protected = if sddl.starts_with("D:P") {
        PROTECTED_DACL_SECURITY_INFORMATION
    } else {
        0
    };
    let ok =
        unsafe { SetFileSecurityW(name.as_ptr(), DACL_SECURITY_INFORMATION | protected, sd.0) };
    if ok == 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Which group of every user `path`'s DACL lets read it, or `None` when
/// none does or the DACL cannot be read.
pub fn readable_by_everyone(path: &Path) -> Option<&'static str> {
    let name = wide(path);
    let mut dacl: *mut ACL = std::ptr::null_mut();
    let mut sd: PSECURITY_DESCRIPTOR = std::ptr::null_mut();
    // SAFETY: a NUL-terminated path; `dacl` points into `sd`, which the
    // call allocates and OwnedSd frees after the DACL was read.
    let rc = unsafe {
        GetNamedSecurityInfoW(
            name.as_ptr(),
            SE_FILE_OBJECT,
            DACL_SECURITY_INFORMATION,
            std::ptr::null_mut(),
            std::ptr::null_mut(),
            &mut dacl,
            std::ptr::null_mut(),
            &mut sd,
        )
    };
    if rc != ERROR_SUCCESS {
        return None;
    }
    let sd = OwnedSd(sd);
    let found = dacl_readable_by_everyone(dacl);
    drop(sd);
    found
}

/// The same judgement on a descriptor (SDDL made, in tests).
#[cfg(test)]
pub fn sd_readable_by_everyone(sd: &OwnedSd) -> io::Result<Option<&'static str>> {
    Ok(match sd.dacl()? {
        // No DACL part at all: nothing is said about access; the object's
        // own DACL is elsewhere. Not a grant.
        None => None,
        Some(dacl) => dacl_readable_by_everyone(dacl),
    })
}

/// Which group of every user the DACL lets read the content: the first
/// allow ACE for Everyone, Authenticated Users or Users with a read right
/// that no deny ACE before it took away (ACEs are applied in order). A
/// null DACL allows every access. ACEs only inherited by what is made
/// inside (inherit-only) do not apply to the object itself.
fn dacl_readable_by_everyone(dacl: *const ACL) -> Option<&'static str> {
    if dacl.is_null() {
        return Some("Everyone (the file has no DACL: every access is allowed)");
    }
    // SAFETY: a valid ACL from the system.
    let count = unsafe { (*dacl).AceCount };
    // The read rights denied so far, for each group (Everyone's deny
    // applies to all of them).
    let mut denied = [0u32; EVERYONE.len()];
    for i in 0..u32::from(count) {
        let mut ace: *mut core::ffi::c_void = std::ptr::null_mut();
        // SAFETY: `i` is below the ACE count; `ace` points into the ACL.
        if unsafe { GetAce(dacl, i, &mut ace) } == 0 {
            // A DACL that cannot be read to its end is not judged safe.
            return Some("Everyone (its DACL could not be read to its end)");
        }
        // Allow and deny ACEs share this layout; the SID starts at SidStart.
        // SAFETY: GetAce gave a pointer to an ACE inside the ACL.
        let ace = unsafe { &*(ace as *const ACCESS_ALLOWED_ACE) };
        if u32::from(ace.Header.AceFlags) & INHERIT_ONLY_ACE != 0 {
            continue;
        }
        let kind = ace.Header.AceType;
        if kind != ACCESS_ALLOWED_ACE_TYPE && kind != ACCESS_DENIED_ACE_TYPE {
            continue;
        }
        let sid = (&ace.SidStart as *const u32).cast_mut().cast();
        // SAFETY: the SID lies inside the ACE.
        let Some(g) = EVERYONE
            .iter()
            .position(|(t, _)| unsafe { IsWellKnownSid(sid, *t) } != 0)
        else {
            continue;
        };
        let read = ace.Mask & READ_RIGHTS;
        if kind == ACCESS_DENIED_ACE_TYPE {
            denied[g] |= read;
        } else if read & !denied[g] & !denied[0] != 0 {
            return Some(EVERYONE[g].1);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn judge(sddl: &str) -> Option<&'static str> {
        sd_readable_by_everyone(&OwnedSd::from_sddl(sddl).unwrap()).unwrap()
    }

    #[test]
    fn a_dacl_is_judged_readable_by_every_user_only_by_a_grant_that_applies() {
        // Read granted to a group every user is in.
        assert_eq!(judge("D:(A;;FR;;;WD)(A;;FA;;;SY)"), Some("Everyone"));
        assert_eq!(
            judge("D:(A;;FA;;;SY)(A;;0x1;;;AU)"),
            Some("Authenticated Users")
        );
        assert_eq!(judge("D:(A;;GR;;;BU)"), Some("Users"));
        assert_eq!(judge("D:(A;OICI;FA;;;BU)"), Some("Users"));
        // No DACL: every access allowed. (Wine's SDDL parser does not
        // make one from "D:NO_ACCESS_CONTROL": judged directly.)
        assert!(dacl_readable_by_everyone(std::ptr::null()).is_some());
        // The private folder's DACL, and others that grant no such read.
        assert_eq!(judge(&private_dacl_sddl("S-1-5-21-1-2-3-1001")), None);
        assert_eq!(judge("D:P"), None);
        assert_eq!(judge("D:(A;;FW;;;WD)(A;;FA;;;BA)"), None, "write only");
        assert_eq!(judge("D:(A;OICIIO;FR;;;BU)"), None, "inherit-only");
        // A deny before the grant takes the read away; after it, not.
        assert_eq!(judge("D:(D;;FR;;;WD)(A;;FR;;;BU)"), None);
        assert_eq!(judge("D:(D;;FR;;;BU)(A;;FR;;;BU)"), None);
        assert_eq!(judge("D:(A;;FR;;;BU)(D;;FR;;;BU)"), Some("Users"));
        // A deny for Users does not stop a grant to Everyone.
        assert_eq!(judge("D:(D;;FR;;;BU)(A;;FR;;;WD)"), Some("Everyone"));
    }

    // Wine 8 keeps no DACL of a file's own: it turns the DACL set into the
    // Unix mode and makes one up from the mode when asked (Everyone for
    // the "other" bits). So under Wine this round trip holds for Everyone
    // only; on Windows for any DACL.
    #[test]
    fn a_file_s_dacl_is_set_and_read_back() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("token");
        std::fs::write(&p, b"s3cret").unwrap();
        set_dacl(&p, "D:P(A;;FR;;;WD)(A;;FA;;;SY)(A;;FA;;;BA)").unwrap();
        assert_eq!(readable_by_everyone(&p), Some("Everyone"));
        restrict_to_owner(&p).unwrap();
        assert_eq!(readable_by_everyone(&p), None);
        // Still ours to read.
        assert_eq!(std::fs::read(&p).unwrap(), b"s3cret");
    }
}
