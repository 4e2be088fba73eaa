//! `#[guard]` — put it above `#[napi]` on every exported function, above `#[napi]` on every exported
//! `impl` block, and above every `impl Task for …`. It rewrites the item before napi-rs sees it:
//!
//! - an exported function or method `fn f(..) -> R { body }` becomes
//!   `fn f(..) -> napi::Result<T, ku0_napi_boundary::Code> { ku0_napi_boundary::guard("f", move || body) }`
//!   (`T` is `R`'s ok type, or `R` itself when `R` is not a `Result`), so a panic becomes a JS error with
//!   `code: "ERR_KU0_NATIVE_PANIC"` and every error carries its `ERR_KU0_…` code as the `code` property;
//! - every plain argument `x: T` becomes `x: ku0_napi_boundary::Arg<T>` (`Option<T>` becomes
//!   `Option<Arg<T>>`), unwrapped before the body runs, so a value napi-rs cannot convert (a number
//!   where a `string` is declared, a wrong field inside an `#[napi(object)]`) is thrown as
//!   `ERR_KU0_INVALID_ARG` (napi status in `cause.code`) instead of napi-rs's bare status; the argument
//!   gets `#[napi(ts_arg_type = …)]` with the type napi-derive itself derives for `T` (through
//!   `napi-derive-backend`), so `binding.d.cts` does not change. Left as they are: `Env`, `This`,
//!   `Reference`, references and patterns other than a plain name;
//! - an export with arguments also gets an injected `__ku0_env: napi::Env` (not a JS argument) and runs
//!   under `ku0_napi_boundary::guard_env`, which re-throws a JavaScript exception the body stopped on
//!   (a getter or `JSON.stringify` on the caller's value threw) as `ERR_KU0_INVALID_ARG`, unless it
//!   already has an `ERR_…` code;
//! - in `impl Task for X`, `compute` runs under `ku0_napi_boundary::guard_compute` and `reject` builds the
//!   coded JS error (a `Task` cannot return a custom status type).
//!
//! `.ci/check-napi-guard.mjs` fails the build when an export is not under this attribute.

use proc_macro::TokenStream;
use quote::{ToTokens, quote};
use syn::{
    Attribute, Block, FnArg, GenericArgument, ImplItem, Item, ItemImpl, Pat, PathArguments,
    ReturnType, Signature, Type, parse_macro_input, parse_quote,
};

#[proc_macro_attribute]
pub fn guard(attr: TokenStream, item: TokenStream) -> TokenStream {
    if !attr.is_empty() {
        return syn::Error::new(
            proc_macro2::Span::call_site(),
            "#[guard] takes no arguments",
        )
        .to_compile_error()
        .into();
    }
    let item = parse_macro_input!(item as Item);
    match item {
        Item::Fn(mut f) => {
            if !has_napi(&f.attrs) {
                return err(
                    &f.sig.ident,
                    "#[guard] goes above #[napi] on an exported function",
                );
            }
            if let Err(e) = rewrite(&mut f.sig, &mut f.block) {
                return e.to_compile_error().into();
            }
            f.into_token_stream().into()
        }
        Item::Impl(i) => rewrite_impl(i),
        other => err(
            &other,
            "#[guard] applies to #[napi] functions and impl blocks",
        ),
    }
}

fn err(at: &impl ToTokens, msg: &str) -> TokenStream {
    syn::Error::new_spanned(at, msg).to_compile_error().into()
}

fn has_napi(attrs: &[Attribute]) -> bool {
    attrs
        .iter()
        .any(|a| a.path().segments.last().is_some_and(|s| s.ident == "napi"))
}

fn rewrite_impl(mut imp: ItemImpl) -> TokenStream {
    let is_task = imp
        .trait_
        .as_ref()
        .and_then(|(_, p, _)| p.segments.last())
        .is_some_and(|s| s.ident == "Task");
    if is_task {
        let mut has_reject = false;
        for it in &mut imp.items {
            if let ImplItem::Fn(f) = it {
                if f.sig.ident == "compute" {
                    let body = &f.block;
                    let ty = &imp.self_ty;
                    let name = ty.to_token_stream().to_string();
                    f.block = parse_quote!({
                        ::ku0_napi_boundary::guard_compute(#name, move || #body)
                    });
                } else if f.sig.ident == "reject" {
                    has_reject = true;
                }
            }
        }
        if has_reject {
            return err(
                &imp.self_ty,
                "#[guard] supplies Task::reject; remove the hand-written one",
            );
        }
        imp.items.push(parse_quote! {
            fn reject(
                &mut self,
                env: ::napi::Env,
                err: ::napi::Error,
            ) -> ::napi::Result<Self::JsValue> {
                Err(::ku0_napi_boundary::coded_js_error(env, err))
            }
        });
        return imp.into_token_stream().into();
    }
    if imp.trait_.is_some() || !has_napi(&imp.attrs) {
        return err(
            &imp.self_ty,
            "#[guard] goes above #[napi] on an exported impl block (or on impl Task)",
        );
    }
    for it in &mut imp.items {
        if let ImplItem::Fn(f) = it
            && has_napi(&f.attrs)
            && let Err(e) = rewrite(&mut f.sig, &mut f.block)
        {
            return e.to_compile_error().into();
        }
    }
    imp.into_token_stream().into()
}

/// The ok type of `Result<T, ..>`, or `None` when `ty` is not a `Result`.
fn result_ok(ty: &Type) -> Option<Type> {
    let Type::Path(p) = ty else { return None };
    if p.qself.is_some() {
        return None;
    }
    let seg = p.path.segments.last()?;
    if seg.ident != "Result" {
        return None;
    }
    let PathArguments::AngleBracketed(a) = &seg.arguments else {
        return None;
    };
    match a.args.first()? {
        GenericArgument::Type(t) => Some(t.clone()),
        _ => None,
    }
}

fn rewrite(sig: &mut Signature, block: &mut Block) -> syn::Result<()> {
    let name = sig.ident.to_string();
    let unwrap = wrap_args(sig)?;
    let (ok, is_result) = match &sig.output {
        ReturnType::Default => (parse_quote!(()), false),
        ReturnType::Type(_, t) => match result_ok(t) {
            Some(ok) => (ok, true),
            None => ((**t).clone(), false),
        },
    };
    let body = block.clone();
    let inner = if is_result {
        quote!(#body)
    } else {
        quote!({ ::core::result::Result::Ok(#body) })
    };
    sig.output = parse_quote!(-> ::napi::Result<#ok, ::ku0_napi_boundary::Code>);
    // An export that takes arguments can run the caller's JavaScript (getters, Proxy traps, coercions):
    // it gets the env (injected by napi-rs, invisible to JS and to the TypeScript types) so a pending
    // JS exception is re-thrown typed. Exports without arguments keep napi-rs's zero-argument path.
    let takes_args = sig.inputs.iter().any(|a| matches!(a, FnArg::Typed(_)));
    if takes_args {
        sig.inputs.push(parse_quote!(__ku0_env: ::napi::Env));
        *block = parse_quote!({
            #(#unwrap)*
            ::ku0_napi_boundary::guard_env(__ku0_env, #name, move || -> ::napi::Result<#ok> #inner)
        });
    } else {
        *block = parse_quote!({
            ::ku0_napi_boundary::guard(#name, move || -> ::napi::Result<#ok> #inner)
        });
    }
    Ok(())
}

/// The last path segment's name of `ty` (`None` for references, tuples, `impl …`, qualified paths).
fn last_ident(ty: &Type) -> Option<&syn::PathSegment> {
    match ty {
        Type::Path(p) if p.qself.is_none() => p.path.segments.last(),
        _ => None,
    }
}

/// `T` of `Option<T>`.
fn option_inner(ty: &Type) -> Option<&Type> {
    let seg = last_ident(ty)?;
    if seg.ident != "Option" {
        return None;
    }
    let PathArguments::AngleBracketed(a) = &seg.arguments else {
        return None;
    };
    match a.args.first()? {
        GenericArgument::Type(t) if a.args.len() == 1 => Some(t),
        _ => None,
    }
}

/// Types napi-derive treats specially (injected, not converted from an argument) or that convert by
/// reference: left untouched.
fn is_special(ty: &Type) -> bool {
    match last_ident(ty) {
        Some(seg) => matches!(
            seg.ident.to_string().as_str(),
            "Env" | "This" | "Reference" | "WeakReference" | "Arg"
        ),
        None => true,
    }
}

fn has_ts_arg_type(attrs: &[Attribute]) -> bool {
    attrs.iter().any(|a| {
        a.path().is_ident("napi") && a.to_token_stream().to_string().contains("ts_arg_type")
    })
}

/// The TypeScript type napi-derive writes for an argument of type `ty` (its own mapping).
fn ts_type(ty: &Type) -> syn::Result<String> {
    let t: syn3::Type = syn3::parse2(ty.to_token_stream()).map_err(|e| {
        syn::Error::new_spanned(ty, format!("#[guard]: cannot read this type: {e}"))
    })?;
    Ok(napi_derive_backend::ty_to_ts_type(&t, false, false, false).0)
}

/// Rewrites every plain argument to `Arg<T>` / `Option<Arg<T>>` (see the crate docs) and returns the
/// statements that unwrap them, in order.
fn wrap_args(sig: &mut Signature) -> syn::Result<Vec<proc_macro2::TokenStream>> {
    let mut unwrap = Vec::new();
    for input in &mut sig.inputs {
        let FnArg::Typed(pt) = input else { continue };
        let Pat::Ident(pi) = &mut *pt.pat else {
            continue;
        };
        if pi.by_ref.is_some() || pi.subpat.is_some() || is_special(&pt.ty) {
            continue;
        }
        let optional = option_inner(&pt.ty).filter(|t| !is_special(t)).cloned();
        if option_inner(&pt.ty).is_some() && optional.is_none() {
            continue;
        }
        if !has_ts_arg_type(&pt.attrs) {
            let ts = ts_type(&pt.ty)?;
            pt.attrs.push(parse_quote!(#[napi(ts_arg_type = #ts)]));
        }
        let mutability = pi.mutability.take();
        let ident = pi.ident.clone();
        match optional {
            Some(inner) => {
                *pt.ty = parse_quote!(::core::option::Option<::ku0_napi_boundary::Arg<#inner>>);
                unwrap.push(quote! {
                    let #mutability #ident =
                        ::core::option::Option::map(#ident, ::ku0_napi_boundary::Arg::into_inner);
                });
            }
            None => {
                let ty = (*pt.ty).clone();
                *pt.ty = parse_quote!(::ku0_napi_boundary::Arg<#ty>);
                unwrap.push(quote! { let #mutability #ident = #ident.0; });
            }
        }
    }
    Ok(unwrap)
}
