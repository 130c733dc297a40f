//! Repairable threshold scheme (RTS, eprint 2017/1155): `helpers` (at least the threshold of
//! participants) restore a lost share of `participant` without anyone learning it.
//!
//! Part 1 runs at each helper and yields one delta per helper (sent to it confidentially);
//! part 2 runs at each helper over the deltas it received and yields one sigma (sent to the
//! participant confidentially); part 3 runs at the participant over all sigmas.

use std::collections::BTreeMap;

use frost_ed25519::keys::repairable::{Delta, Sigma};
use frost_ed25519::keys::{KeyPackage, PublicKeyPackage};

use super::rng::SeededRng;
use super::{
    by_number, distinct_values, identifier, identifiers, insufficient, invalid_argument, map_error,
    number, Error, Suite,
};
use crate::error::Result;

/// Part 1 at helper `key_package`: split its contribution to `participant`'s share into one
/// random-looking delta per helper. Randomness from `seed`.
pub fn repair_share_part1(
    helpers: &[u16],
    key_package: &KeyPackage,
    seed: &[u8],
    participant: u16,
) -> Result<BTreeMap<u16, Delta>> {
    let ids = identifiers(helpers)?;
    let lost = identifier(participant)?;
    let me = number(key_package.identifier()).unwrap_or(0);
    if !helpers.contains(&me) {
        return Err(invalid_argument(format!(
            "the helpers must include this helper ({me})"
        )));
    }
    if helpers.contains(&participant) {
        return Err(invalid_argument(
            "the participant being repaired cannot be a helper",
        ));
    }
    if helpers.len() < usize::from(*key_package.min_signers()) {
        return Err(insufficient(format!(
            "a repair needs at least the threshold ({}) of helpers, got {}",
            key_package.min_signers(),
            helpers.len()
        )));
    }
    let mut rng = SeededRng::new("repair-part1", seed)?;
    let deltas = frost_core::keys::repairable::repair_share_part1::<Suite, _>(
        &ids,
        key_package,
        &mut rng,
        lost,
    )
    .map_err(map_error)?;
    by_number(deltas)
}

/// Part 2 at a helper: sum the deltas it received (one from every helper) into its sigma.
/// The same delta twice (it would be counted twice) is an `InvalidArgument`.
pub fn repair_share_part2(deltas: &[Delta]) -> Result<Sigma> {
    if deltas.is_empty() {
        return Err(insufficient("a sigma is the sum of at least one delta"));
    }
    distinct_values("deltas", deltas)?;
    Ok(frost_core::keys::repairable::repair_share_part2::<Suite>(
        deltas,
    ))
}

/// Part 3 at the participant: sum the sigmas into the restored key package, and check that it
/// matches the participant's verifying share in `public` (`InvalidShare` if not). The same
/// sigma twice is an `InvalidArgument`.
pub fn repair_share_part3(
    sigmas: &[Sigma],
    participant: u16,
    public: &PublicKeyPackage,
) -> Result<KeyPackage> {
    let id = identifier(participant)?;
    let expected = *public.verifying_shares().get(&id).ok_or_else(|| {
        invalid_argument(format!(
            "participant {participant} is not in the public key package"
        ))
    })?;
    let min = public.min_signers().unwrap_or(2);
    if sigmas.len() < usize::from(min) {
        return Err(insufficient(format!(
            "a repair needs sigmas from at least the threshold ({min}) of helpers, got {}",
            sigmas.len()
        )));
    }
    distinct_values("sigmas", sigmas)?;
    let package = frost_core::keys::repairable::repair_share_part3::<Suite>(sigmas, id, public)
        .map_err(map_error)?;
    if *package.verifying_share() != expected {
        return Err(Error::invalid_share(
            "the repaired share does not match the participant's verifying share",
            Vec::new(),
        ));
    }
    Ok(package)
}
