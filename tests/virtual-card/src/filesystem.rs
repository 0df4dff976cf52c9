//! The card's file tree and the FCP templates it hands out on SELECT.

use crate::der_writer::tlv;
use crate::pkcs15;

/// A file's full path from the MF, 3F00 included (`[0x3F00]` is the MF itself).
pub type FilePath = Vec<u16>;

#[derive(Clone, Debug)]
pub enum FileKind {
    Dedicated { name: Option<Vec<u8>> },
    Elementary { content: Vec<u8>, sfi: Option<u8> },
}

#[derive(Clone, Debug)]
pub struct CardFile {
    pub path: FilePath,
    pub kind: FileKind,
}

impl CardFile {
    pub fn fid(&self) -> u16 {
        self.path.last().copied().unwrap_or(pkcs15::MF)
    }

    pub fn is_dedicated(&self) -> bool {
        matches!(self.kind, FileKind::Dedicated { .. })
    }

    /// FCP template (ISO 7816-4 §5.3.3) in the layout of a CPS3: size, descriptor, FID,
    /// DF name, SFI, then the IAS-ECC security attributes in compact form (`A1 { 8C contact,
    /// 9C contactless }`) and the life cycle status "operational, activated".
    /// With or without the file id (83): whether a real CPS3's application FCP carries one is
    /// unknown (CARD.md).
    pub fn fcp_with_fid(&self, with_fid: bool) -> Vec<u8> {
        // Access mode byte 7B: delete, activate, deactivate, update, read (or DF equivalents),
        // one security condition byte each: FF never, 00 always.
        const ACCESS_RULES: [u8; 7] = [0x7B, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x00];
        let mut fields = Vec::new();
        match &self.kind {
            FileKind::Elementary { content, sfi } => {
                let size = u16::try_from(content.len()).unwrap_or(u16::MAX);
                fields.extend(tlv(&[0x80], &size.to_be_bytes()));
                fields.extend(tlv(&[0x82], &[0x01])); // transparent working EF
                fields.extend(tlv(&[0x83], &self.fid().to_be_bytes()));
                if let Some(sfi) = sfi {
                    fields.extend(tlv(&[0x88], &[sfi << 3]));
                }
            }
            FileKind::Dedicated { name } => {
                fields.extend(tlv(&[0x82], &[0x38])); // DF
                if with_fid {
                    fields.extend(tlv(&[0x83], &self.fid().to_be_bytes()));
                }
                if let Some(name) = name {
                    fields.extend(tlv(&[0x84], name));
                }
            }
        }
        let security_attributes =
            [tlv(&[0x8C], &ACCESS_RULES), tlv(&[0x9C], &ACCESS_RULES)].concat();
        fields.extend(tlv(&[0xA1], &security_attributes));
        fields.extend(tlv(&[0x8A], &[0x05]));
        tlv(&[0x62], &fields)
    }
}

/// All the files of one card, as a flat list of full paths.
#[derive(Clone, Debug)]
pub struct FileSystem {
    files: Vec<CardFile>,
}

impl FileSystem {
    pub fn new(files: Vec<CardFile>) -> Self {
        Self { files }
    }

    pub fn get(&self, path: &[u16]) -> Option<&CardFile> {
        self.files.iter().find(|file| file.path == path)
    }

    /// The child `fid` of the DF at `parent`.
    pub fn child(&self, parent: &[u16], fid: u16) -> Option<&CardFile> {
        self.files.iter().find(|file| {
            file.path.len() == parent.len() + 1
                && file.path.starts_with(parent)
                && file.fid() == fid
        })
    }

    /// The EF of the DF at `parent` that has short identifier `sfi`.
    pub fn child_by_sfi(&self, parent: &[u16], sfi: u8) -> Option<&CardFile> {
        self.files.iter().find(|file| {
            file.path.len() == parent.len() + 1
                && file.path.starts_with(parent)
                && matches!(file.kind, FileKind::Elementary { sfi: Some(s), .. } if s == sfi)
        })
    }

    /// The DF whose name (AID) is exactly `name`.
    pub fn dedicated_by_name(&self, name: &[u8]) -> Option<&CardFile> {
        self.files.iter().find(|file| {
            matches!(&file.kind, FileKind::Dedicated { name: Some(n) } if n.as_slice() == name)
        })
    }

    /// Removes the file at `path` (an EF, or a DF without children).
    pub fn remove(&mut self, path: &[u16]) {
        self.files.retain(|file| file.path != path);
    }

    /// Gives the DF at `path` (and everything under it) the file id `fid`.
    pub fn rename_dir(&mut self, path: &[u16], fid: u16) {
        let Some(last) = path.len().checked_sub(1) else {
            return;
        };
        for file in &mut self.files {
            if file.path.starts_with(path) {
                file.path[last] = fid;
            }
        }
    }

    /// Replaces the content of the EF at `path`; `false` when there is no such EF.
    pub fn set_content(&mut self, path: &[u16], new_content: Vec<u8>) -> bool {
        match self.files.iter_mut().find(|file| file.path == path) {
            Some(CardFile {
                kind: FileKind::Elementary { content, .. },
                ..
            }) => {
                *content = new_content;
                true
            }
            _ => false,
        }
    }

    /// Walks `fids` from the DF at `start`: every step but the last must be a DF.
    pub fn walk(&self, start: &[u16], fids: &[u16]) -> Option<&CardFile> {
        let mut current = self.get(start)?;
        for fid in fids {
            if !current.is_dedicated() {
                return None;
            }
            current = self.child(&current.path, *fid)?;
        }
        Some(current)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> FileSystem {
        FileSystem::new(vec![
            CardFile {
                path: vec![0x3F00],
                kind: FileKind::Dedicated { name: None },
            },
            CardFile {
                path: vec![0x3F00, 0xD003],
                kind: FileKind::Elementary {
                    content: vec![0; 12],
                    sfi: Some(0x1C),
                },
            },
            CardFile {
                path: vec![0x3F00, 0x0001],
                kind: FileKind::Dedicated {
                    name: Some(vec![0xE8, 0x28]),
                },
            },
            CardFile {
                path: vec![0x3F00, 0x0001, 0x5031],
                kind: FileKind::Elementary {
                    content: vec![1],
                    sfi: None,
                },
            },
        ])
    }

    #[test]
    fn ef_fcp_has_the_cps3_layout() {
        let fs = sample();
        let fcp = fs
            .get(&[0x3F00, 0xD003])
            .map(|file| file.fcp_with_fid(true));
        // Same bytes as the FCP of 3F00/D003 in the vendor trace of OpenSC issue #2275.
        let expected = vec![
            0x62, 0x25, 0x80, 0x02, 0x00, 0x0C, 0x82, 0x01, 0x01, 0x83, 0x02, 0xD0, 0x03, 0x88,
            0x01, 0xE0, 0xA1, 0x12, 0x8C, 0x07, 0x7B, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x00, 0x9C,
            0x07, 0x7B, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x00, 0x8A, 0x01, 0x05,
        ];
        assert_eq!(fcp, Some(expected));
    }

    #[test]
    fn df_fcp_carries_its_name() {
        let fs = sample();
        let df_fcp = |with_fid| {
            fs.get(&[0x3F00, 0x0001])
                .map(|file| file.fcp_with_fid(with_fid))
                .unwrap_or_default()
        };
        let fcp = df_fcp(true);
        assert_eq!(
            &fcp[..11],
            [0x62, 0x22, 0x82, 0x01, 0x38, 0x83, 0x02, 0x00, 0x01, 0x84, 0x02]
        );
        let without_fid = df_fcp(false);
        assert_eq!(
            &without_fid[..7],
            [0x62, 0x1E, 0x82, 0x01, 0x38, 0x84, 0x02]
        );
    }

    #[test]
    fn walking_stops_at_elementary_files() {
        let fs = sample();
        assert!(fs.walk(&[0x3F00], &[0x0001, 0x5031]).is_some());
        assert!(fs.walk(&[0x3F00], &[0xD003, 0x5031]).is_none());
        assert!(fs.walk(&[0x3F00], &[0x0002]).is_none());
        assert_eq!(
            fs.child_by_sfi(&[0x3F00], 0x1C).map(CardFile::fid),
            Some(0xD003)
        );
    }
}
