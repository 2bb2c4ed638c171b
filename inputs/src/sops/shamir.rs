//! Shamir secret sharing as sops uses it for key groups (HashiCorp Vault's scheme): each byte
//! of the data key is the constant term of a random polynomial over GF(2^8) with the AES
//! reduction polynomial x^8 + x^4 + x^3 + x + 1. A share is the polynomial evaluated at every
//! byte position, followed by one byte holding its x coordinate. Only combining is needed here.

use zeroize::Zeroizing;

use super::error::DataKeyProblem;

/// Rebuilds the secret from at least two shares by Lagrange interpolation at x = 0.
pub(crate) fn combine(shares: &[Zeroizing<Vec<u8>>]) -> Result<Zeroizing<Vec<u8>>, DataKeyProblem> {
    if shares.len() < 2 {
        return Err(DataKeyProblem::TooFewShamirParts);
    }
    let share_len = shares[0].len();
    if share_len < 2 {
        return Err(DataKeyProblem::ShamirPartTooShort);
    }
    if shares.iter().any(|share| share.len() != share_len) {
        return Err(DataKeyProblem::ShamirPartLengthsDiffer);
    }
    let xs: Vec<u8> = shares.iter().map(|share| share[share_len - 1]).collect();
    for (index, x) in xs.iter().enumerate() {
        if xs[..index].contains(x) {
            return Err(DataKeyProblem::DuplicateShamirCoordinate);
        }
    }

    let mut secret = Zeroizing::new(vec![0u8; share_len - 1]);
    for (position, byte) in secret.iter_mut().enumerate() {
        let mut value = 0u8;
        for (i, share) in shares.iter().enumerate() {
            // The Lagrange basis polynomial of share i, evaluated at 0 (where 0 - x = x).
            let mut basis = 1u8;
            for (j, &x_j) in xs.iter().enumerate() {
                if i != j {
                    basis = mul(basis, div(x_j, xs[i] ^ x_j));
                }
            }
            value ^= mul(share[position], basis);
        }
        *byte = value;
    }
    Ok(secret)
}

/// Multiplication in GF(2^8) modulo 0x11B, without data-dependent branches.
fn mul(mut a: u8, mut b: u8) -> u8 {
    let mut product = 0u8;
    for _ in 0..8 {
        product ^= a & 0u8.wrapping_sub(b & 1);
        let carry = 0u8.wrapping_sub(a >> 7);
        a = (a << 1) ^ (carry & 0x1b);
        b >>= 1;
    }
    product
}

/// a / b in GF(2^8): a * b^254, since b^255 = 1 for every non-zero b. Callers never pass
/// b = 0 (x coordinates are distinct).
fn div(a: u8, b: u8) -> u8 {
    let mut inverse = 1u8;
    for _ in 0..254 {
        inverse = mul(inverse, b);
    }
    mul(a, inverse)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Vault's split, written out for a known polynomial: secret byte s, shares at x = 1 and 2
    /// of f(x) = s + c*x.
    #[test]
    fn combines_two_shares_of_a_degree_one_polynomial() {
        let secret = [0x42u8, 0x00, 0xff];
        let coefficient = [0x17u8, 0x99, 0x01];
        let share = |x: u8| {
            let mut share: Vec<u8> = secret
                .iter()
                .zip(coefficient)
                .map(|(s, c)| s ^ mul(c, x))
                .collect();
            share.push(x);
            Zeroizing::new(share)
        };
        let combined = combine(&[share(1), share(200)]).unwrap();
        assert_eq!(combined.as_slice(), &secret);
    }

    #[test]
    fn field_arithmetic_matches_the_aes_field() {
        // The classic AES example: {57} x {83} = {c1}.
        assert_eq!(mul(0x57, 0x83), 0xc1);
        for b in 1..=255u8 {
            assert_eq!(mul(div(1, b), b), 1);
        }
    }

    #[test]
    fn rejects_duplicate_or_too_few_parts() {
        let part = Zeroizing::new(vec![1u8, 2, 3]);
        assert!(combine(std::slice::from_ref(&part)).is_err());
        assert!(combine(&[part.clone(), part]).is_err());
    }
}
